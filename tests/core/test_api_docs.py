import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_published(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/login/" in schema["paths"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_locally_not_from_a_cdn(client, url):
    html = client.get(url).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_browsable_api_works_after_admin_sign_in(admin_client):
    response = admin_client.get("/api/v1/auth/me/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and b"Django REST framework" in response.content


def test_unknown_api_urls_get_the_api_error_body(admin_client):
    response = admin_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert admin_client.get("/no-such-page/").headers["Content-Type"].startswith("text/html")
