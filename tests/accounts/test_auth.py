import pytest

pytestmark = pytest.mark.django_db


def test_login_returns_token_that_authenticates(api_client):
    from tests.factories import UserFactory

    UserFactory(username="agent")
    response = api_client.post("/api/v1/auth/login/", {"username": "agent", "password": "correct horse battery staple"})
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/auth/me/").json()["username"] == "agent"
