"""What forum readers must not learn: who wrote a hidden reply, and other members' draft use cases."""

import pytest

from accounts import roles
from community.choices import UseCaseStatus

from .conftest import POSTS, REPLIES, USE_CASES
from .factories import PostFactory, UseCaseFactory

pytestmark = pytest.mark.django_db


def _tree_entry(client, post, reply_id):
    response = client.get(f"{POSTS}{post.pk}/")
    assert response.status_code == 200
    return next(entry for entry in response.data["replies"] if str(entry["id"]) == reply_id)


def test_a_hidden_reply_names_nobody_to_members(author, member, moderator):
    post = PostFactory()
    written = author.post(REPLIES, {"post": str(post.pk), "body": "rude words"})
    assert written.status_code == 201, written.data
    reply_id = written.data["id"]
    # Answered, so the hidden reply stays in the thread as a placeholder.
    assert member.post(REPLIES, {"post": str(post.pk), "parent": reply_id, "body": "?"}).status_code == 201
    assert moderator.post(f"{REPLIES}{reply_id}/hide/", {"reason": "rude"}).status_code == 200

    seen = _tree_entry(member, post, reply_id)
    assert seen["is_deleted"] is True
    assert (seen["author"], seen["created_by"], seen["updated_by"], seen["body"]) == (None, None, None, "")
    assert author.user.username not in str(member.get(f"{POSTS}{post.pk}/").content)

    moderated = _tree_entry(moderator, post, reply_id)
    assert moderated["author"] == author.user.username


@pytest.fixture
def writer(make_client):
    return make_client(roles.MEMBER)


@pytest.fixture
def draft(writer):
    return UseCaseFactory(status=UseCaseStatus.DRAFT, created_by=writer.user, title="Unannounced pilot")


def _titles(client):
    response = client.get(USE_CASES)
    assert response.status_code == 200
    return {row["title"] for row in response.data["results"]}


def test_draft_use_cases_are_listed_to_their_writer_and_moderators_only(draft, writer, member, moderator):
    published = UseCaseFactory(status=UseCaseStatus.PUBLISHED)
    assert _titles(member) == {published.title}
    assert member.get(f"{USE_CASES}{draft.pk}/").status_code == 404
    assert draft.title in _titles(writer)
    assert draft.title in _titles(moderator)
