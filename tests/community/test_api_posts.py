import pytest

from community.choices import PostStatus
from community.models import Post, Subscription

from .conftest import POSTS
from .factories import PostFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def detail(post, suffix=""):
    return f"{POSTS}{post.pk}/{suffix}"


def test_member_writes_a_post_in_markdown_and_follows_it(author):
    response = author.post(
        POSTS,
        {
            "title": "  Vibration alarms on a centrifugal pump  ",
            "body": "Our **pump** trips at *night*.",
            "category": "maintenance",
            "tags": ["Pumps", "vibration", "pumps"],
        },
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert body["title"] == "Vibration alarms on a centrifugal pump"
    assert body["author"] == author.user.username
    assert body["body"] == "Our **pump** trips at *night*."
    assert body["body_html"] == "<p>Our <strong>pump</strong> trips at <em>night</em>.</p>\n"
    assert body["tags"] == ["pumps", "vibration"]
    assert (body["status"], body["score"], body["reply_count"], body["best_answer"]) == ("published", 0, 0, None)
    assert Subscription.objects.filter(user=author.user, post_id=body["id"]).exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"title": "t", "body": "b", "category": "astrology"}, "category"),
        ({"title": "t\x00", "body": "b"}, "title"),
        ({"title": "t", "body": "b\x00"}, "body"),
        ({"title": "", "body": "b"}, "title"),
        ({"title": "t", "body": "b", "status": "closed"}, "status"),
        ({"title": "t", "body": "b", "tags": ["has space"]}, "tags"),
        ({"title": "t", "body": "b", "colour": "red"}, "colour"),
    ],
)
def test_bad_post_input_is_a_400_naming_the_field(author, payload, field):
    response = author.post(POSTS, payload)
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    assert not Post.objects.exists()


def test_members_cannot_pin_their_own_post(author):
    response = author.post(POSTS, {"title": "t", "body": "b", "pinned": True})
    assert response.status_code == 403


def test_list_is_pinned_first_then_latest_activity_and_filters(author, member):
    old = PostFactory(title="old", category="automation", tags=["plc"])
    pinned = PostFactory(title="pinned", pinned=True)
    new = PostFactory(title="new", category="energy")
    ReplyFactory(post=old)
    Post.objects.filter(pk=old.pk).update(reply_count=1)
    Post.objects.filter(pk=new.pk).update(last_activity_at=pinned.last_activity_at)
    titles = [p["title"] for p in member.get(POSTS).data["results"]]
    assert titles[0] == "pinned"
    assert set(titles) == {"old", "pinned", "new"}
    assert [p["title"] for p in member.get(POSTS, {"category": "automation"}).data["results"]] == ["old"]
    assert [p["title"] for p in member.get(POSTS, {"tag": "PLC"}).data["results"]] == ["old"]
    assert {p["title"] for p in member.get(POSTS, {"unanswered": "true"}).data["results"]} == {"pinned", "new"}
    assert [p["title"] for p in member.get(POSTS, {"author": old.author.username}).data["results"]] == ["old"]
    assert member.get(POSTS, {"category": "astrology"}).status_code == 400


def test_drafts_are_seen_by_their_author_and_moderators_only(author, member, moderator):
    draft = PostFactory(author=author.user, status=PostStatus.DRAFT)
    assert member.get(detail(draft)).status_code == 404
    assert member.get(POSTS).data["count"] == 0
    assert author.get(detail(draft)).status_code == 200
    assert moderator.get(detail(draft)).status_code == 200
    response = author.patch(detail(draft), {"status": "published"})
    assert response.status_code == 200, response.data
    assert member.get(detail(draft)).status_code == 200


def test_author_edits_own_post_and_history_keeps_every_version(author, member):
    post = PostFactory(author=author.user, body="first")
    response = author.patch(detail(post), {"body": "second <script>x</script>", "version": 1})
    assert response.status_code == 200, response.data
    assert response.data["body_html"] == "<p>second &lt;script&gt;x&lt;/script&gt;</p>\n"
    assert response.data["version"] == 2
    assert author.patch(detail(post), {"body": "stale", "version": 1}).status_code == 409
    history = member.get(detail(post, "history/")).data["results"]
    assert [entry["body"] for entry in history] == ["second <script>x</script>", "first"]
    assert history[0]["changed_by"] == author.user.username


def test_edit_never_overwrites_counters_moved_meanwhile(author, member):
    post = PostFactory(author=author.user)
    assert member.post(detail(post, "vote/"), {"value": 1}).status_code == 200
    author.patch(detail(post), {"title": "Edited title"})
    post.refresh_from_db()
    assert (post.title, post.score) == ("Edited title", 1)


def test_permission_matrix_on_edit_and_delete(author, member, moderator, outsider, api_client):
    post = PostFactory(author=author.user)
    assert api_client.patch(detail(post), {"title": "x"}).status_code == 401
    assert outsider.get(detail(post)).status_code == 403
    assert outsider.patch(detail(post), {"title": "x"}).status_code == 403
    assert member.patch(detail(post), {"title": "x"}).status_code == 403
    assert member.delete(detail(post)).status_code == 403
    assert moderator.patch(detail(post), {"title": "moderated"}).status_code == 200
    assert author.delete(detail(post)).status_code == 204
    deleted = Post.all_objects.get(pk=post.pk)
    assert deleted.deleted_by == author.user
    assert deleted.deleted_reason == "Deleted by its author."
    assert member.get(detail(post)).status_code == 404


@pytest.mark.parametrize("action_name", ["pin", "unpin", "close", "reopen", "archive"])
def test_moderation_actions_are_for_moderators(author, member, moderator, action_name):
    post = PostFactory(author=author.user)
    assert author.post(detail(post, f"{action_name}/")).status_code == 403
    assert member.post(detail(post, f"{action_name}/")).status_code == 403
    assert moderator.post(detail(post, f"{action_name}/")).status_code == 200


def test_moderator_closes_pins_hides_and_restores(author, member, moderator):
    post = PostFactory(author=author.user)
    assert moderator.post(detail(post, "pin/")).data["pinned"] is True
    assert moderator.post(detail(post, "close/")).data["status"] == "closed"
    assert author.patch(detail(post), {"title": "x"}).status_code == 409
    assert moderator.post(detail(post, "reopen/")).data["status"] == "published"
    assert moderator.post(detail(post, "hide/"), {}).status_code == 400
    assert member.post(detail(post, "hide/"), {"reason": "spam"}).status_code == 403
    response = moderator.post(detail(post, "hide/"), {"reason": "advertising"})
    assert response.status_code == 200, response.data
    assert response.data["deleted_reason"] == "Hidden by a moderator: advertising"
    assert member.get(detail(post)).status_code == 404
    assert member.post(detail(post, "restore/")).status_code == 403
    assert moderator.post(detail(post, "restore/")).status_code == 200
    assert member.get(detail(post)).status_code == 200


def test_anonymous_gets_401_everywhere(api_client):
    post = PostFactory()
    assert api_client.get(POSTS).status_code == 401
    assert api_client.get(detail(post)).status_code == 401
    assert api_client.post(POSTS, {"title": "t", "body": "b"}).status_code == 401
    assert api_client.post(detail(post, "vote/"), {"value": 1}).status_code == 401
    assert api_client.post(detail(post, "view/")).status_code == 401


def test_unknown_post_is_404(member):
    assert member.get(f"{POSTS}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert member.get(f"{POSTS}not-a-uuid/").status_code == 404


def test_list_query_count_does_not_grow(member, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            post = PostFactory(tags=["plc", "scada"])
            ReplyFactory(post=post, is_best_answer=True)

    make(2)
    member.get(POSTS)  # warm up the permission cache of this user
    with django_assert_num_queries(7) as small:  # token and permissions (4), count, page, tags
        assert member.get(POSTS).status_code == 200
    make(8)
    with django_assert_num_queries(len(small.captured_queries)):
        response = member.get(POSTS)
    assert response.data["count"] == 10
    assert all(post["best_answer"] for post in response.data["results"])
