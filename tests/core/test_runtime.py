import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError

from core import runtime
from core.models import RuntimeSetting

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec():
    spec = runtime.define("TEST_KNOB", int, "A knob for tests.", minimum=1, maximum=10)
    yield spec
    runtime._specs.pop("TEST_KNOB", None)


@pytest.fixture(autouse=True)
def knob_default(settings):
    settings.TEST_KNOB = 3
    runtime.clear_cache()
    yield
    runtime.clear_cache()


def test_environment_setting_is_the_default(spec):
    assert runtime.get("TEST_KNOB") == 3


def test_stored_value_overrides_the_default_and_changes_take_effect_at_once(spec, django_assert_num_queries):
    setting = RuntimeSetting.objects.create(key="TEST_KNOB", value=7)
    assert runtime.get("TEST_KNOB") == 7
    with django_assert_num_queries(0):  # cached
        assert runtime.get("TEST_KNOB") == 7
    setting.value = 5
    setting.save()
    assert runtime.get("TEST_KNOB") == 5
    setting.delete()
    assert runtime.get("TEST_KNOB") == 3


@pytest.mark.parametrize("bad", ["many", 0, 11, 2.5, True, None, [1]])
def test_values_are_validated_per_key(spec, bad):
    with pytest.raises(ValidationError):
        RuntimeSetting(key="TEST_KNOB", value=bad).full_clean()


def test_unknown_keys_are_refused():
    with pytest.raises(ValidationError) as exc:
        RuntimeSetting(key="NO_SUCH_KNOB", value=1).full_clean()
    assert "key" in exc.value.message_dict


def test_admin_edits_runtime_settings_with_validation(spec, admin_client):
    assert RuntimeSetting in site._registry
    url = "/admin/core/runtimesetting/add/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "TEST_KNOB" in page.content.decode()
    refused = admin_client.post(url, {"key": "TEST_KNOB", "value": "99"})
    assert refused.status_code == 200 and not RuntimeSetting.objects.exists()
    accepted = admin_client.post(url, {"key": "TEST_KNOB", "value": "4"})
    assert accepted.status_code == 302
    assert runtime.get("TEST_KNOB") == 4


def test_admin_changes_record_who_made_them(spec, admin_client, admin_user):
    admin_client.post("/admin/core/runtimesetting/add/", {"key": "TEST_KNOB", "value": "4"})
    setting = RuntimeSetting.objects.get(key="TEST_KNOB")
    assert setting.created_by == admin_user and setting.updated_by == admin_user
    assert setting.history.get().history_user == admin_user


def test_a_request_reads_the_overrides_once(spec, monkeypatch):
    RuntimeSetting.objects.create(key="TEST_KNOB", value=7)
    reads = []
    real_get = runtime.cache.get
    monkeypatch.setattr(runtime.cache, "get", lambda key, *args: reads.append(key) or real_get(key, *args))
    with runtime.read_once():
        assert [runtime.get("TEST_KNOB") for _ in range(4)] == [7, 7, 7, 7]
    assert reads == [runtime.CACHE_KEY]
    runtime.get("TEST_KNOB")  # outside a request: read each time
    assert len(reads) == 2


def test_a_change_made_during_a_request_is_seen_in_it(spec):
    setting = RuntimeSetting.objects.create(key="TEST_KNOB", value=7)
    with runtime.read_once():
        assert runtime.get("TEST_KNOB") == 7
        setting.value = 5
        setting.save()  # clears the cache when it commits (at once here: no transaction)
        assert runtime.get("TEST_KNOB") == 5
