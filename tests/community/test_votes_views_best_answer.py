import pytest
from django.db import IntegrityError

from community import services
from community.choices import PostStatus
from community.models import Notification, Post, Reply, Vote
from core.context import acting_as
from core.errors import Invalid

from .conftest import POSTS, REPLIES
from .factories import PostFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def post_url(post, suffix=""):
    return f"{POSTS}{post.pk}/{suffix}"


def test_vote_change_and_removal_move_the_score_exactly_once(author, member):
    post = PostFactory(author=author.user)
    url = post_url(post, "vote/")
    assert member.post(url, {"value": 1}).data == {"score": 1, "my_vote": 1}
    assert member.post(url, {"value": 1}).data == {"score": 1, "my_vote": 1}
    assert member.post(url, {"value": -1}).data == {"score": -1, "my_vote": -1}
    assert member.get(post_url(post)).data["my_vote"] == -1
    assert member.post(url, {"value": 0}).data == {"score": 0, "my_vote": 0}
    assert member.post(url, {"value": 0}).data == {"score": 0, "my_vote": 0}
    assert not Vote.objects.exists()


@pytest.mark.parametrize("value", [2, "up", None, True])
def test_bad_vote_values_are_400(author, member, value):
    post = PostFactory(author=author.user)
    response = member.post(post_url(post, "vote/"), {"value": value})
    assert response.status_code == 400
    assert "value" in response.data["fields"]


def test_members_cannot_vote_on_their_own_content(author):
    post = PostFactory(author=author.user)
    reply = ReplyFactory(author=author.user)
    for url in (post_url(post, "vote/"), f"{REPLIES}{reply.pk}/vote/"):
        response = author.post(url, {"value": 1})
        assert response.status_code == 400
        assert "value" in response.data["fields"]
    assert not Vote.objects.exists()


def test_reply_votes_and_permissions(member, outsider, api_client):
    reply = ReplyFactory()
    url = f"{REPLIES}{reply.pk}/vote/"
    assert api_client.post(url, {"value": 1}).status_code == 401
    assert outsider.post(url, {"value": 1}).status_code == 403
    assert member.post(url, {"value": -1}).data == {"score": -1, "my_vote": -1}
    assert Reply.objects.get(pk=reply.pk).score == -1


def test_votes_on_an_archived_post_are_409(member):
    post = PostFactory(status=PostStatus.ARCHIVED)
    assert member.post(post_url(post, "vote/"), {"value": 1}).status_code == 409


def test_database_refuses_a_second_vote_and_a_vote_on_nothing(member):
    post = PostFactory()
    Vote.objects.create(user=member.user, post=post, value=1)
    with pytest.raises(IntegrityError):
        Vote.objects.create(user=member.user, post=post, value=-1)


def test_database_refuses_a_vote_on_two_targets_or_a_value_of_two(member):
    post = PostFactory()
    reply = ReplyFactory(post=post)
    with pytest.raises(IntegrityError):
        Vote.objects.create(user=member.user, post=post, reply=reply, value=1)


def test_database_refuses_a_vote_value_other_than_plus_or_minus_one(member):
    with pytest.raises(IntegrityError):
        Vote.objects.create(user=member.user, post=PostFactory(), value=2)


def test_database_refuses_a_vote_without_target(member):
    with pytest.raises(IntegrityError):
        Vote.objects.create(user=member.user, value=1)


def test_view_counts_once_per_member_per_day(author, member):
    post = PostFactory(author=author.user)
    assert member.post(post_url(post, "view/")).data == {"counted": True, "view_count": 1}
    assert member.post(post_url(post, "view/")).data == {"counted": False, "view_count": 1}
    assert author.post(post_url(post, "view/")).data == {"counted": True, "view_count": 2}


# --- Best answer ------------------------------------------------------------------------------


def test_author_chooses_and_replaces_the_best_answer(author, member):
    post = PostFactory(author=author.user)
    first, second = ReplyFactory(post=post, author=member.user), ReplyFactory(post=post)
    url = post_url(post, "best-answer/")
    response = author.post(url, {"reply": str(first.pk)})
    assert response.status_code == 200, response.data
    assert response.data["best_answer"] == str(first.pk)
    assert response.data["has_best_answer"] is True
    assert Notification.objects.filter(recipient=member.user, kind="best-answer").count() == 1
    response = author.post(url, {"reply": str(second.pk)})
    assert response.data["best_answer"] == str(second.pk)
    assert list(Reply.objects.filter(is_best_answer=True)) == [second]
    assert member.get(POSTS, {"has_best_answer": "true"}).data["count"] == 1
    response = author.delete(url)
    assert response.status_code == 200
    assert response.data["best_answer"] is None
    assert not Reply.objects.filter(is_best_answer=True).exists()


def test_only_the_author_or_a_moderator_chooses_the_best_answer(author, member, moderator, outsider):
    post = PostFactory(author=author.user)
    reply = ReplyFactory(post=post)
    url = post_url(post, "best-answer/")
    assert member.post(url, {"reply": str(reply.pk)}).status_code == 403
    assert member.delete(url).status_code == 403
    assert outsider.post(url, {"reply": str(reply.pk)}).status_code == 403
    assert moderator.post(url, {"reply": str(reply.pk)}).status_code == 200


def test_best_answer_must_be_a_live_reply_of_the_post(author):
    post = PostFactory(author=author.user)
    foreign = ReplyFactory()
    gone = ReplyFactory(post=post)
    gone.delete()
    url = post_url(post, "best-answer/")
    for reply_id in (str(foreign.pk), str(gone.pk), "00000000-0000-0000-0000-000000000000", "nope"):
        response = author.post(url, {"reply": reply_id})
        assert response.status_code == 400, reply_id
        assert "reply" in response.data["fields"]
    assert not Post.objects.get(pk=post.pk).has_best_answer


def test_database_allows_one_best_answer_per_post():
    post = PostFactory()
    ReplyFactory(post=post, is_best_answer=True)
    with pytest.raises(IntegrityError):
        ReplyFactory(post=post, is_best_answer=True)


def test_deleting_the_best_answer_clears_it(author, member):
    post = PostFactory(author=author.user)
    reply = services.reply_create(post=post, author=member.user, body="Use a shielded cable.")
    with acting_as(author.user):
        services.post_set_best_answer(post=post, reply=reply)
    assert member.delete(f"{REPLIES}{reply.pk}/").status_code == 204
    post.refresh_from_db()
    assert post.has_best_answer is False
    assert author.get(post_url(post)).data["best_answer"] is None


def test_service_refuses_a_reply_of_another_post():
    post = PostFactory()
    with acting_as(post.author), pytest.raises(Invalid):
        services.post_set_best_answer(post=post, reply=ReplyFactory())
