"""Whatever bytes a client sends, the answer is a 4xx with the error body, never a 500."""

import pytest

from tests.core.testapp.models import Widget

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.testapp.api")]

URL = "/api/v1/test/widgets/"


@pytest.fixture
def editor(admin_client_api):
    return admin_client_api


def _post(client, raw, content_type="application/json", path=URL):
    return client.generic("POST", path, raw, content_type=content_type)


def _assert_error(response, status):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["status"] == status and body["code"] and body["detail"]
    assert not Widget.all_objects.exists()
    return body


def test_body_over_the_limit_is_a_413(editor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = _assert_error(_post(editor, '{"name": "' + "x" * 2000 + '"}'), 413)
    assert "1000 bytes" in body["detail"]


def test_json_nested_ten_thousand_deep_is_a_400(editor):
    _assert_error(_post(editor, "[" * 10_000 + "]" * 10_000), 400)


def test_json_nested_past_the_depth_limit_is_a_400(editor, settings):
    settings.API_MAX_JSON_DEPTH = 5
    body = _assert_error(_post(editor, '{"name": [[[[[["x"]]]]]]}'), 400)
    assert "deeper than 5" in body["detail"]


@pytest.mark.parametrize(
    ("raw", "field", "where"),
    [
        ('{"name": "va\\u0000lve"}', "name", ""),
        ('{"name": "valve", "extra\\u0000": 1}', "extra\\u0000", ""),
        ('{"name": ["a", "b\\u0000"]}', "name", " (at name.1)"),
        ('{"name": {"k\\u0000": 1}}', "name", " (at name.k\\u0000)"),
    ],
)
def test_nul_anywhere_in_the_body_is_a_400_naming_where(editor, raw, field, where):
    body = _assert_error(_post(editor, raw), 400)
    assert body["fields"] == {field: [f"Null characters are not allowed{where}."]}


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "1" * 5000])
def test_numbers_that_do_not_fit_are_a_400(editor, number):
    _assert_error(_post(editor, '{"name": "valve", "size": ' + number + "}"), 400)


def test_bytes_that_are_not_utf8_are_a_400(editor):
    body = _assert_error(_post(editor, b'{"name": "\xff\xfe"}'), 400)
    assert "UTF-8" in body["detail"]


def test_malformed_json_is_a_400(editor):
    _assert_error(_post(editor, '{"name": '), 400)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "application/xml"],
)
def test_other_content_types_are_a_415(editor, content_type):
    _assert_error(_post(editor, "name=valve", content_type=content_type), 415)


@pytest.mark.parametrize("query", ["?name=%00", "?search=a%00b", "?page=%00"])
def test_nul_in_the_query_string_is_a_400(editor, query):
    response = editor.get(URL + query)
    assert response.status_code == 400
    assert response.json()["code"] == "null_character"


def test_nul_in_the_path_is_a_400(editor):
    response = editor.get(URL + "a%00b/")
    assert response.status_code == 400 and response.json()["code"] == "null_character"


def test_non_ascii_token_is_a_401_not_a_500(api_client):
    response = api_client.get(URL, HTTP_AUTHORIZATION=b"Token \xff\xfe".decode("latin-1"))
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_valid_json_still_works(editor):
    response = _post(editor, '{"name": "valve", "size": 2}')
    assert response.status_code == 201 and response.json()["size"] == 2
