import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from carriers.models import Load, Negotiation
from core.models import RuntimeSetting
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.core.testapp.models import Widget

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/testapp/widget/"


def _names(response):
    return sorted(obj.name for obj in response.context["cl"].result_list)


def test_changelist_hides_deleted_rows_behind_a_filter(admin_client):
    Widget.objects.create(name="live")
    Widget.objects.create(name="gone").delete()
    assert _names(admin_client.get(CHANGELIST)) == ["live"]
    assert _names(admin_client.get(CHANGELIST, {"deleted": "yes"})) == ["gone"]
    assert _names(admin_client.get(CHANGELIST, {"deleted": "all"})) == ["gone", "live"]


def test_delete_action_soft_deletes_and_restore_action_brings_rows_back(admin_client):
    widget = Widget.objects.create(name="pump")
    admin_client.post(CHANGELIST, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [widget.pk], "post": "yes"})
    assert Widget.all_objects.get(pk=widget.pk).is_deleted
    admin_client.post(f"{CHANGELIST}?deleted=yes", {"action": "restore_selected", ACTION_CHECKBOX_NAME: [widget.pk]})
    assert not Widget.all_objects.get(pk=widget.pk).is_deleted


def test_restore_refuses_when_a_live_row_took_the_name(admin_client):
    old = Widget.objects.create(name="pump")
    old.delete()
    Widget.objects.create(name="pump")
    response = admin_client.post(
        f"{CHANGELIST}?deleted=yes", {"action": "restore_selected", ACTION_CHECKBOX_NAME: [old.pk]}, follow=True
    )
    assert "Cannot restore" in response.content.decode()
    assert Widget.all_objects.get(pk=old.pk).is_deleted


def test_change_form_shows_audit_fields_read_only_and_history_is_browsable(admin_client, admin_user):
    widget = Widget.objects.create(name="pump")
    response = admin_client.post(f"{CHANGELIST}{widget.pk}/change/", {"name": "pump", "size": 4})
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.size == 4 and widget.version == 2 and widget.updated_by == admin_user
    history = admin_client.get(f"{CHANGELIST}{widget.pk}/history/")
    assert history.status_code == 200 and admin_user.username in history.content.decode()


def test_saving_a_form_opened_before_someone_elses_save_is_refused(admin_client):
    widget = Widget.objects.create(name="pump")
    page = admin_client.get(f"{CHANGELIST}{widget.pk}/change/").content.decode()
    assert 'type="hidden" name="expected_version" value="1"' in page
    # Someone else saves in between.
    other = Widget.objects.get(pk=widget.pk)
    other.size = 7
    other.save()
    response = admin_client.post(f"{CHANGELIST}{widget.pk}/change/", {"name": "pump", "size": 4, "expected_version": 1})
    assert response.status_code == 200
    assert "Someone else saved this record" in response.content.decode()
    widget.refresh_from_db()
    assert widget.size == 7 and widget.version == 2
    # Reloaded, the change goes through.
    accepted = admin_client.post(f"{CHANGELIST}{widget.pk}/change/", {"name": "pump", "size": 4, "expected_version": 2})
    assert accepted.status_code == 302
    widget.refresh_from_db()
    assert widget.size == 4 and widget.version == 3


def test_runtime_setting_added_in_the_admin_carries_its_description(admin_client):
    response = admin_client.post("/admin/core/runtimesetting/add/", {"key": "FMCSA_CACHE_HOURS", "value": "12"})
    assert response.status_code == 302
    setting = RuntimeSetting.objects.get()
    assert setting.value == 12 and setting.description.startswith("Hours a stored FMCSA verification")


def test_delete_action_on_rows_others_reference_marks_them_deleted(admin_client):
    """Soft delete touches nothing else, so nothing referencing the row blocks it."""
    load = LoadFactory()
    Negotiation.objects.create(load=load, carrier=CarrierFactory())
    response = admin_client.post(f"/admin/carriers/load/{load.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Load.all_objects.get(pk=load.pk).is_deleted
