"""Who may do what: anonymous → 401, signed in without the Member role → 403, members read
and write their own content, moderators (Manager and Admin roles) moderate."""

import pytest

from accounts import roles

from .conftest import NOTIFICATIONS, POSTS, REPLIES, REPORTS, SUBSCRIPTIONS, USE_CASES
from .factories import PostFactory, ReplyFactory, UseCaseFactory

pytestmark = pytest.mark.django_db

LISTS = [POSTS, REPLIES, REPORTS, SUBSCRIPTIONS, NOTIFICATIONS, USE_CASES]


@pytest.mark.parametrize(
    "role, moderates",
    [
        (roles.ADMIN, True),
        (roles.MANAGER, True),
        (roles.MEMBER, False),
        (roles.SALES_AGENT, False),
        (roles.DISPATCHER, False),
        (roles.REGISTRY_OPERATOR, False),
    ],
)
def test_moderation_belongs_to_managers_and_admins(make_client, role, moderates):
    user = make_client(role).user
    assert user.has_perm("community.moderate_post") is moderates


@pytest.mark.parametrize("url", LISTS)
def test_lists_need_sign_in_and_the_member_role(api_client, outsider, member, moderator, url):
    assert api_client.get(url).status_code == 401
    assert outsider.get(url).status_code == 403
    assert member.get(url).status_code == 200
    assert moderator.get(url).status_code == 200


def test_write_matrix(api_client, outsider, author, member, moderator):
    post = PostFactory(author=author.user)
    reply = ReplyFactory(post=post, author=author.user)
    use_case = UseCaseFactory(created_by=author.user)
    new_reply = {"post": str(post.pk), "body": "hi"}
    assert api_client.post(REPLIES, new_reply).status_code == 401
    assert outsider.post(REPLIES, new_reply).status_code == 403
    assert member.post(REPLIES, new_reply).status_code == 201
    for url, body in (
        (f"{POSTS}{post.pk}/", {"title": "x"}),
        (f"{REPLIES}{reply.pk}/", {"body": "x"}),
        (f"{USE_CASES}{use_case.pk}/", {"title": "x"}),
    ):
        assert api_client.patch(url, body).status_code == 401
        assert outsider.patch(url, body).status_code == 403
        assert member.patch(url, body).status_code == 403
        assert author.patch(url, body).status_code == 200
        assert moderator.patch(url, body).status_code == 200
    for url in (f"{REPLIES}{reply.pk}/", f"{USE_CASES}{use_case.pk}/", f"{POSTS}{post.pk}/"):
        assert member.delete(url).status_code == 403
        assert moderator.delete(url).status_code == 204
    report = {"post": str(post.pk), "reason": "spam"}
    assert outsider.post(REPORTS, report).status_code == 403
    assert moderator.get(f"{POSTS}{post.pk}/", {"include_deleted": "true"}).status_code == 200
    assert member.get(f"{POSTS}{post.pk}/", {"include_deleted": "true"}).status_code == 404
