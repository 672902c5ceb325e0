"""One rule for tag names, whichever app stores them."""

import pytest

from accounts import roles
from core.tags import normalise_tag_names

pytestmark = pytest.mark.django_db

TYPED = [" Env:Prod ", "C++", "ｃ＃", "c++", ""]
STORED = ["c#", "c++", "env:prod"]


def test_typed_names_become_one_stored_form():
    assert normalise_tag_names(TYPED) == STORED


def test_the_forum_and_the_registry_store_the_same_tags_the_same_way(make_client):
    post = make_client(roles.MEMBER).post("/api/v1/community/posts/", {"title": "t", "body": "b", "tags": TYPED[:4]})
    assert post.status_code == 201, post.data
    service = make_client(roles.REGISTRY_OPERATOR).post(
        "/api/v1/registry/services/", {"name": "gateway", "tags": TYPED[:4]}
    )
    assert service.status_code == 201, service.data
    assert post.data["tags"] == service.data["tags"] == STORED


@pytest.mark.parametrize(
    ("url", "body"),
    [("/api/v1/community/posts/", {"title": "t", "body": "b"}), ("/api/v1/registry/services/", {"name": "svc"})],
)
def test_a_tag_with_a_space_is_refused_on_its_field(make_client, url, body):
    response = make_client(roles.MANAGER).post(url, {**body, "tags": ["two words"]})
    assert response.status_code == 400
    assert "tags" in response.data["fields"]
