import pytest
from django.contrib.auth.models import Permission

from tests.core.testapp.models import Widget
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.testapp.api")]

URL = "/api/v1/test/widgets/"


def _grant(client, *codenames):
    client.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="testapp", codename__in=codenames)
    )


@pytest.fixture
def editor(make_client):
    client = make_client()
    _grant(client, "view_widget", "add_widget", "change_widget")
    return client


@pytest.fixture
def owner(make_client):
    client = make_client()
    _grant(client, "view_widget", "add_widget", "change_widget", "delete_widget")
    return client


def test_create_fills_audit_fields_from_token_user(editor):
    response = editor.post(URL, {"name": "valve"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created_by"] == editor.user.username and body["version"] == 1
    assert Widget.objects.get(pk=body["id"]).created_by == editor.user


def test_stale_version_in_body_gets_409_and_changes_nothing(editor):
    widget = Widget.objects.create(name="valve")
    assert editor.patch(f"{URL}{widget.pk}/", {"size": 2, "version": 1}).status_code == 200
    response = editor.patch(f"{URL}{widget.pk}/", {"size": 7, "version": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    widget.refresh_from_db()
    assert widget.size == 2 and widget.version == 2


def test_stale_if_match_header_gets_412_with_the_current_etag(editor):
    widget = Widget.objects.create(name="valve")
    etag = editor.get(f"{URL}{widget.pk}/").headers["ETag"]
    assert etag == '"1"'
    assert editor.patch(f"{URL}{widget.pk}/", {"size": 2}, HTTP_IF_MATCH=etag).status_code == 200
    response = editor.patch(f"{URL}{widget.pk}/", {"size": 3}, HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert response.headers["ETag"] == '"2"'
    assert response.json()["code"] == "precondition_failed" and response.json()["status"] == 412
    assert Widget.objects.get(pk=widget.pk).size == 2
    # The ETag it handed back is good for the retry.
    retry = editor.put(f"{URL}{widget.pk}/", {"name": "valve", "size": 3}, HTTP_IF_MATCH=response.headers["ETag"])
    assert retry.status_code == 200 and retry.json()["version"] == 3


def test_delete_honours_if_match(owner):
    widget = Widget.objects.create(name="valve")
    assert owner.patch(f"{URL}{widget.pk}/", {"size": 2}).status_code == 200
    stale = owner.delete(f"{URL}{widget.pk}/", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale.headers["ETag"] == '"2"'
    assert not Widget.all_objects.get(pk=widget.pk).is_deleted
    assert owner.delete(f"{URL}{widget.pk}/", HTTP_IF_MATCH='W/"2"').status_code == 204
    assert Widget.all_objects.get(pk=widget.pk).is_deleted


def test_if_match_star_means_any_version(editor):
    widget = Widget.objects.create(name="valve", size=1)
    assert editor.patch(f"{URL}{widget.pk}/", {"size": 2}, HTTP_IF_MATCH="*").status_code == 200


def test_malformed_version_is_a_400(editor):
    widget = Widget.objects.create(name="valve")
    response = editor.patch(f"{URL}{widget.pk}/", {"size": 2}, HTTP_IF_MATCH='"abc"')
    assert response.status_code == 400
    assert "version" in response.json()["fields"]


def test_delete_soft_deletes_and_restore_needs_delete_permission(editor, owner):
    widget = Widget.objects.create(name="valve")
    assert editor.delete(f"{URL}{widget.pk}/").status_code == 403
    assert owner.delete(f"{URL}{widget.pk}/").status_code == 204
    assert Widget.all_objects.get(pk=widget.pk).is_deleted
    assert editor.get(f"{URL}{widget.pk}/").status_code == 404
    assert editor.post(f"{URL}{widget.pk}/restore/").status_code == 403
    response = owner.post(f"{URL}{widget.pk}/restore/")
    assert response.status_code == 200 and response.json()["deleted_at"] is None
    assert Widget.objects.filter(pk=widget.pk).exists()


def test_include_deleted_only_for_those_allowed(editor, owner):
    Widget.objects.create(name="live")
    Widget.objects.create(name="gone").delete()
    names = lambda client: sorted(w["name"] for w in client.get(URL, {"include_deleted": "true"}).json()["results"])  # noqa: E731
    assert names(editor) == ["live"]
    assert names(owner) == ["gone", "live"]


def test_errors_share_one_body_shape(editor, api_client):
    bad = editor.post(URL, {"name": "", "size": -1})
    assert bad.status_code == 400
    body = bad.json()
    assert body["status"] == 400 and set(body["fields"]) == {"name", "size"}
    missing = editor.get(f"{URL}00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    anonymous = api_client.get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"


def test_nul_byte_in_text_is_a_400(editor):
    response = editor.post(URL, {"name": "va\x00lve"})
    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    assert not Widget.all_objects.exists()


def test_user_without_view_permission_gets_403(make_client):
    assert make_client().get(URL).status_code == 403


def test_request_id_is_echoed_or_generated(editor):
    assert editor.get(URL, HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"] == "abc-123"
    generated = editor.get(URL, HTTP_X_REQUEST_ID="bad id with spaces").headers["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_unused_user_factory_password_is_hashed():
    user = UserFactory()
    assert user.password.startswith("md5$") or "$" in user.password


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_body_that_is_not_an_object_is_a_400(editor, method):
    widget = Widget.objects.create(name="valve")
    response = getattr(editor, method)(f"{URL}{widget.pk}/", "null", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"non_field_errors": ["No data provided"]}


@pytest.mark.urls("tests.core.testapp.natural_key_api")
def test_restore_by_natural_key_picks_one_row_among_live_and_deleted_namesakes(owner):
    first = Widget.objects.create(name="pump")
    first.delete()
    second = Widget.objects.create(name="pump")
    second.delete()
    live = Widget.objects.create(name="pump")
    # The live row answers the detail view; restore takes the most recently deleted row and is
    # refused because the live row holds the name.
    detail = owner.get("/api/v1/test/widgets/pump/", {"include_deleted": "true"})
    assert detail.status_code == 200 and detail.json()["id"] == str(live.pk)
    refused = owner.post("/api/v1/test/widgets/pump/restore/")
    assert refused.status_code == 409 and "Cannot restore" in refused.json()["detail"]
    live.delete()
    restored = owner.post("/api/v1/test/widgets/pump/restore/")
    assert restored.status_code == 200 and restored.json()["id"] == str(live.pk)
