import pytest

from community.choices import PostStatus
from community.models import Post, Reply

from .conftest import POSTS, REPLIES
from .factories import PostFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def post_url(post, suffix=""):
    return f"{POSTS}{post.pk}/{suffix}"


def reply_url(reply, suffix=""):
    return f"{REPLIES}{reply.pk}/{suffix}"


def test_member_replies_and_answers_a_reply(author, member):
    post = PostFactory(author=author.user)
    first = member.post(REPLIES, {"post": str(post.pk), "body": "Check *grounding*."})
    assert first.status_code == 201, first.data
    assert first.data["body_html"] == "<p>Check <em>grounding</em>.</p>\n"
    second = author.post(REPLIES, {"post": str(post.pk), "parent": first.data["id"], "body": "Done, still trips."})
    assert second.status_code == 201, second.data
    assert str(second.data["parent"]) == first.data["id"]
    post.refresh_from_db()
    assert post.reply_count == 2
    assert post.last_activity_at >= post.created_at


@pytest.mark.parametrize("status", [PostStatus.CLOSED, PostStatus.ARCHIVED])
def test_replies_on_a_closed_or_archived_post_are_409(member, status):
    post = PostFactory(status=status)
    response = member.post(REPLIES, {"post": str(post.pk), "body": "late"})
    assert response.status_code == 409
    assert status in response.data["detail"].lower()
    assert not Reply.objects.exists()


def test_reply_to_a_reply_of_another_post_is_400(member):
    post, other = PostFactory(), PostFactory()
    foreign = ReplyFactory(post=other)
    response = member.post(REPLIES, {"post": str(post.pk), "parent": str(foreign.pk), "body": "x"})
    assert response.status_code == 400
    assert "parent" in response.data["fields"]
    assert Reply.objects.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"body": "x"}, "post"),
        ({"post": "00000000-0000-0000-0000-000000000000", "body": "x"}, "post"),
        ({"body": "\x00", "post": None}, "body"),
        ({"body": "   "}, "body"),
    ],
)
def test_bad_reply_input_is_400(member, payload, field):
    post = PostFactory()
    if payload.get("post", "") is None or field == "body":
        payload = {**payload, "post": str(post.pk)}
    response = member.post(REPLIES, payload)
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]


def test_author_edits_and_deletes_own_reply_others_cannot(author, member, moderator):
    reply = ReplyFactory(author=author.user)
    assert member.patch(reply_url(reply), {"body": "hijack"}).status_code == 403
    assert member.delete(reply_url(reply)).status_code == 403
    response = author.patch(reply_url(reply), {"body": "edited"})
    assert response.status_code == 200, response.data
    assert response.data["body"] == "edited"
    assert moderator.patch(reply_url(reply), {"body": "moderated"}).status_code == 200
    assert [entry["body"] for entry in member.get(reply_url(reply, "history/")).data["results"]] == [
        "moderated",
        "edited",
        ReplyFactory._meta.declarations["body"],
    ]
    Post.objects.filter(pk=reply.post_id).update(reply_count=1)
    assert author.delete(reply_url(reply)).status_code == 204
    assert Post.objects.get(pk=reply.post_id).reply_count == 0


def test_tree_comes_in_tree_order_with_depth_and_keeps_deleted_branches(member, author):
    post = PostFactory(author=author.user)
    a = ReplyFactory(post=post, body="a")
    b = ReplyFactory(post=post, body="b")
    a1 = ReplyFactory(post=post, parent=a, body="a1")
    ReplyFactory(post=post, parent=a1, body="a1x")
    ReplyFactory(post=post, parent=b, body="b1")
    ReplyFactory(post=post, parent=a, body="a2")
    lonely = ReplyFactory(post=post, body="lonely")
    lonely.delete()
    a1.delete()  # has a live answer: stays as a placeholder
    tree = member.get(post_url(post)).data["replies"]
    assert [(r["body"], r["depth"]) for r in tree] == [
        ("a", 0),
        ("", 1),
        ("a1x", 2),
        ("a2", 1),
        ("b", 0),
        ("b1", 1),
    ]
    assert tree[1]["is_deleted"] is True and tree[1]["author"] is None


def test_detail_query_count_does_not_grow_with_the_tree(member, django_assert_num_queries):
    post = PostFactory(tags=["plc"])

    def grow(n):
        parent = None
        for i in range(n):
            parent = ReplyFactory(post=post, parent=parent if i % 2 else None)

    grow(3)
    member.get(post_url(post))
    with django_assert_num_queries(7) as small:  # token and permissions (4), post, tags, replies
        assert member.get(post_url(post)).status_code == 200
    grow(40)
    with django_assert_num_queries(len(small.captured_queries)):
        response = member.get(post_url(post))
    assert len(response.data["replies"]) == 43


def test_reply_list_query_count_does_not_grow(member, django_assert_num_queries):
    post = PostFactory()
    ReplyFactory.create_batch(2, post=post)
    member.get(REPLIES)
    with django_assert_num_queries(6) as small:  # token and permissions (4), count, page
        member.get(REPLIES, {"post": str(post.pk)})
    ReplyFactory.create_batch(10, post=post)
    with django_assert_num_queries(len(small.captured_queries)):
        response = member.get(REPLIES, {"post": str(post.pk)})
    assert response.data["count"] == 12


def test_replies_of_drafts_and_hidden_posts_are_not_listed(member, moderator):
    draft = PostFactory(status=PostStatus.DRAFT)
    ReplyFactory(post=draft)
    hidden = PostFactory()
    ReplyFactory(post=hidden)
    hidden.delete()
    assert member.get(REPLIES).data["count"] == 0
    assert moderator.get(REPLIES).data["count"] == 1


def test_moderator_hides_and_restores_a_reply(member, moderator):
    reply = ReplyFactory()
    Post.objects.filter(pk=reply.post_id).update(reply_count=1)
    assert member.post(reply_url(reply, "hide/"), {"reason": "rude"}).status_code == 403
    assert moderator.post(reply_url(reply, "hide/"), {"reason": "rude"}).status_code == 200
    assert member.get(reply_url(reply)).status_code == 404
    assert Post.objects.get(pk=reply.post_id).reply_count == 0
    assert moderator.post(reply_url(reply, "restore/")).status_code == 200
    assert Post.objects.get(pk=reply.post_id).reply_count == 1


def test_patch_without_a_body_changes_nothing(author):
    reply = ReplyFactory(author=author.user)
    response = author.patch(reply_url(reply), {})
    assert response.status_code == 200
    assert response.data["version"] == 1
