import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community import services
from community.models import Notification, NotificationPreference, Post, Reply, Report, Subscription
from tests.factories import UserFactory

from .conftest import NOTIFICATIONS, REPLIES, REPORTS, SUBSCRIPTIONS
from .factories import PostFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def test_followers_but_not_the_replier_are_notified_in_one_insert(
    author, member, make_client, django_capture_on_commit_callbacks
):
    post = PostFactory(author=author.user)
    followers = [make_client("Member") for _ in range(5)]
    for follower in followers:
        assert follower.post(SUBSCRIPTIONS, {"post": str(post.pk)}).status_code == 201
    Subscription.objects.create(user=member.user, post=post)
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.reply_create(post=post, author=member.user, body="Try a ferrite core.")
    recipients = set(Notification.objects.filter(reply=reply).values_list("recipient", flat=True))
    assert recipients == {author.user.pk, *(f.user.pk for f in followers)}
    assert member.user.pk not in recipients
    assert mail.outbox == []  # nobody opted in to email


def test_notification_insert_is_one_query_however_many_followers(member):
    def query_count(n_followers):
        post = PostFactory()
        for user in UserFactory.create_batch(n_followers):
            Subscription.objects.create(user=user, post=post)
        with CaptureQueriesContext(connection) as queries:
            services.reply_create(post=post, author=member.user, body="x")
        return len(queries)

    assert query_count(2) == query_count(30)


def test_members_who_opted_in_get_an_email_after_commit(author, member, django_capture_on_commit_callbacks):
    post = PostFactory(author=author.user, title="Chiller alarms")
    response = author.put(f"{NOTIFICATIONS}preferences/", {"email_on_reply": True})
    assert response.data == {"email_on_reply": True}
    assert author.get(f"{NOTIFICATIONS}preferences/").data == {"email_on_reply": True}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = member.post(REPLIES, {"post": str(post.pk), "body": "Check the refrigerant charge."})
    assert response.status_code == 201
    assert mail.outbox == []  # not before the reply is committed
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [author.user.email]
    assert "Chiller alarms" in mail.outbox[0].subject
    assert "refrigerant" in mail.outbox[0].body


def test_notifications_are_private_and_can_be_marked_read(author, member):
    post = PostFactory(author=author.user)
    services.reply_create(post=post, author=member.user, body="one")
    services.reply_create(post=post, author=member.user, body="two")
    assert member.get(NOTIFICATIONS).data["count"] == 0
    listed = author.get(NOTIFICATIONS, {"unread": "true"}).data
    assert listed["count"] == 2
    first = listed["results"][0]
    assert first["actor"] == member.user.username and first["unread"] is True
    assert member.post(f"{NOTIFICATIONS}{first['id']}/read/").status_code == 404
    response = author.post(f"{NOTIFICATIONS}{first['id']}/read/")
    assert response.data["unread"] is False
    assert author.get(NOTIFICATIONS, {"unread": "true"}).data["count"] == 1
    assert author.post(f"{NOTIFICATIONS}read-all/").data == {"marked_read": 1}
    assert author.get(NOTIFICATIONS, {"unread": "true"}).data["count"] == 0


def test_notification_list_query_count_does_not_grow(author, member, django_assert_num_queries):
    post = PostFactory(author=author.user)
    services.reply_create(post=post, author=member.user, body="x")
    author.get(NOTIFICATIONS)
    with django_assert_num_queries(6) as small:  # token and permissions (4), count, page
        author.get(NOTIFICATIONS)
    for i in range(10):
        services.reply_create(post=PostFactory(author=author.user), author=member.user, body=str(i))
    with django_assert_num_queries(len(small.captured_queries)):
        assert author.get(NOTIFICATIONS).data["count"] == 11


def test_follow_and_unfollow(member, api_client, outsider):
    post = PostFactory()
    assert api_client.post(SUBSCRIPTIONS, {"post": str(post.pk)}).status_code == 401
    assert outsider.post(SUBSCRIPTIONS, {"post": str(post.pk)}).status_code == 403
    assert member.post(SUBSCRIPTIONS, {"post": str(post.pk)}).status_code == 201
    assert member.post(SUBSCRIPTIONS, {"post": str(post.pk)}).status_code == 200
    assert member.get(SUBSCRIPTIONS).data["count"] == 1
    assert member.post(SUBSCRIPTIONS, {"post": "nope"}).status_code == 400
    assert member.delete(f"{SUBSCRIPTIONS}{post.pk}/").status_code == 204
    assert member.delete(f"{SUBSCRIPTIONS}{post.pk}/").status_code == 404
    assert not Subscription.objects.filter(user=member.user).exists()


def test_subscription_list_query_count_does_not_grow(member, django_assert_num_queries):
    for post in PostFactory.create_batch(2):
        Subscription.objects.create(user=member.user, post=post)
    member.get(SUBSCRIPTIONS)
    with django_assert_num_queries(6) as small:
        member.get(SUBSCRIPTIONS)
    for post in PostFactory.create_batch(8):
        Subscription.objects.create(user=member.user, post=post)
    with django_assert_num_queries(len(small.captured_queries)):
        assert member.get(SUBSCRIPTIONS).data["count"] == 10


# --- Reports --------------------------------------------------------------------------------


def test_one_open_report_per_member_per_item(member):
    post = PostFactory()
    assert member.post(REPORTS, {"post": str(post.pk), "reason": "spam"}).status_code == 201
    response = member.post(REPORTS, {"post": str(post.pk), "reason": "offensive"})
    assert response.status_code == 409
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda post, reply: {"reason": "spam"}, "non_field_errors"),
        (lambda post, reply: {"post": str(post.pk), "reply": str(reply.pk), "reason": "spam"}, "non_field_errors"),
        (lambda post, reply: {"post": str(post.pk), "reason": "boring"}, "reason"),
        (lambda post, reply: {"post": str(post.pk), "reason": "other"}, "text"),
        (lambda post, reply: {"post": str(post.pk), "reason": "other", "text": "\x00"}, "text"),
    ],
)
def test_bad_reports_are_400(member, build, field):
    post = PostFactory()
    reply = ReplyFactory(post=post)
    response = member.post(REPORTS, build(post, reply))
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]


def test_moderator_hides_reported_content_and_every_open_report_on_it_closes(member, make_client, moderator):
    reply = services.reply_create(post=PostFactory(), author=make_client("Member").user, body="buy now")
    other = make_client("Member")
    first = member.post(REPORTS, {"reply": str(reply.pk), "reason": "spam"}).data
    other.post(REPORTS, {"reply": str(reply.pk), "reason": "offensive"})
    assert member.get(REPORTS).data["count"] == 1  # members see their own reports
    assert moderator.get(REPORTS, {"status": "open"}).data["count"] == 2
    assert member.post(f"{REPORTS}{first['id']}/resolve/", {"resolution": "hide"}).status_code == 403
    response = moderator.post(f"{REPORTS}{first['id']}/resolve/", {"resolution": "hide", "note": "advert"})
    assert response.status_code == 200, response.data
    assert response.data["status"] == "hidden"
    assert Report.objects.filter(status="open").count() == 0
    hidden = Reply.all_objects.get(pk=reply.pk)
    assert hidden.is_deleted and hidden.deleted_reason == "Hidden by a moderator: advert"
    assert hidden.deleted_by == moderator.user
    assert Post.objects.get(pk=reply.post_id).reply_count == 0
    again = moderator.post(f"{REPORTS}{first['id']}/resolve/", {"resolution": "dismiss"})
    assert again.status_code == 409
    # Resolved, the member may report the item again later.
    assert member.post(REPORTS, {"post": str(reply.post_id), "reason": "spam"}).status_code == 201


def test_dismiss_leaves_the_content(member, moderator):
    post = PostFactory()
    report = member.post(REPORTS, {"post": str(post.pk), "reason": "off-topic"}).data
    response = moderator.post(f"{REPORTS}{report['id']}/resolve/", {"resolution": "dismiss"})
    assert response.data["status"] == "dismissed"
    assert Post.objects.filter(pk=post.pk).exists()
    assert moderator.post(f"{REPORTS}{report['id']}/resolve/", {"resolution": "ban"}).status_code == 400


def test_report_queue_query_count_does_not_grow(make_client, moderator, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            services.report_create(reporter=make_client("Member").user, reason="spam", post=PostFactory())

    make(2)
    moderator.get(REPORTS)
    with django_assert_num_queries(6) as small:
        moderator.get(REPORTS)
    make(8)
    with django_assert_num_queries(len(small.captured_queries)):
        assert moderator.get(REPORTS).data["count"] == 10


def test_preferences_need_a_boolean(member):
    assert member.put(f"{NOTIFICATIONS}preferences/", {"email_on_reply": "maybe"}).status_code == 400
    assert not NotificationPreference.objects.exists()


def test_nobody_follows_someone_elses_draft(member, author):
    draft = PostFactory(author=author.user, status="draft")
    assert member.post(SUBSCRIPTIONS, {"post": str(draft.pk)}).status_code == 404
    assert not Subscription.objects.filter(user=member.user).exists()


def test_replies_of_a_hidden_post_cannot_be_reported(member):
    reply = ReplyFactory()
    reply.post.delete()
    response = member.post(REPORTS, {"reply": str(reply.pk), "reason": "spam"})
    assert response.status_code == 404
    assert not Report.objects.exists()
