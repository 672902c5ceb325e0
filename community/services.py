"""Every write of the community app. The API, the admin and commands call these functions, so
a rule (one vote per member, no replies on a closed post, who may choose a best answer) holds
whichever way a change comes in.

Counters on posts and replies (score, views, replies) change only through ``UPDATE ... SET
x = x + n`` in the transaction of the change that moves them, never through ``save()`` of a
copy read earlier, so concurrent writers never lose a count.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.context import get_current_user
from core.db.locks import lock_rows
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.history import update_with_history
from core.services import model_create, model_update, on_delete, on_restore
from core.tags import normalise_tag_names, validate_tag_name
from events import payloads
from events.services import publish

from . import markdown
from .choices import (
    REPLYABLE_STATUSES,
    NotificationKind,
    PostStatus,
    ReportReason,
    ReportResolution,
    ReportStatus,
)
from .models import (
    ModeratedContent,
    Notification,
    NotificationPreference,
    Post,
    PostView,
    Reply,
    Report,
    Subscription,
    Tag,
    UseCase,
    UseCaseDetail,
    Vote,
)
from .policies import can_edit, is_moderator
from .schemas import DETAIL_SCHEMAS, detail_errors

logger = logging.getLogger(__name__)

MAX_TAGS = 10


def _require_edit(obj) -> None:
    """The acting user (``core.context``) is the author or a moderator."""
    if not can_edit(get_current_user(), obj):
        raise Forbidden(f"Only the author or a moderator may change this {obj._meta.verbose_name}.", code="not_author")


def _tags(names: Iterable[str]) -> list[Tag]:
    cleaned = normalise_tag_names(names)
    if len(cleaned) > MAX_TAGS:
        raise Invalid({"tags": [f"At most {MAX_TAGS} tags."]})
    for name in cleaned:
        try:
            validate_tag_name(name)
        except ValidationError as exc:
            raise Invalid({"tags": [f"{name!r}: {message}" for message in exc.messages]}) from None
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=cleaned)}
    for name in cleaned:
        if name not in existing:
            existing[name], _ = Tag.objects.get_or_create(name=name)
    return [existing[name] for name in cleaned]


def _require_text(field: str, value: str) -> str:
    if not value or not value.strip():
        raise Invalid({field: ["This field may not be blank."]})
    return value


def _lock(model, pk):
    try:
        return model.all_objects.select_for_update().get(pk=pk)
    except model.DoesNotExist:
        raise NotFound(f"No such {model._meta.verbose_name}.") from None


# --- Soft delete with a reason --------------------------------------------------------------


def _mark_deleted(instance: ModeratedContent, reason: str, **changes) -> None:
    # A lifecycle write, like SoftDeleteModel.delete(): never refused by the row's own rules.
    changes |= {"deleted_at": timezone.now(), "deleted_by": get_current_user(), "deleted_reason": reason[:500]}
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.save(update_fields=list(changes))


def _default_reason(instance) -> str:
    user = get_current_user()
    owner_id = getattr(instance, "author_id", None) or instance.created_by_id
    if user is not None and user.pk == owner_id:
        return "Deleted by its author."
    return "Deleted by a moderator."


@on_delete(Post)
def post_delete(*, instance: Post, reason: str | None = None) -> None:
    _mark_deleted(instance, reason or _default_reason(instance))


@on_delete(UseCase)
def use_case_delete(*, instance: UseCase, reason: str | None = None) -> None:
    _mark_deleted(instance, reason or _default_reason(instance))


@on_delete(Reply)
def reply_delete(*, instance: Reply, reason: str | None = None) -> None:
    was_best = instance.is_best_answer
    _mark_deleted(instance, reason or _default_reason(instance), **({"is_best_answer": False} if was_best else {}))
    # counter: replies on the post
    Post.all_objects.filter(pk=instance.post_id).update(reply_count=F("reply_count") - 1)
    if was_best:
        update_with_history(
            Post.all_objects.filter(pk=instance.post_id), has_best_answer=False, reason="best answer deleted"
        )


def _restore(instance: ModeratedContent) -> None:
    instance.validate_restorable()
    instance.deleted_at = None
    instance.deleted_by = None
    instance.deleted_reason = ""
    instance.save(update_fields=["deleted_at", "deleted_by", "deleted_reason"])


@on_restore(Post)
def post_restore(*, instance: Post) -> None:
    _restore(instance)


@on_restore(UseCase)
def use_case_restore(*, instance: UseCase) -> None:
    _restore(instance)


@on_restore(Reply)
def reply_restore(*, instance: Reply) -> None:
    _restore(instance)
    # counter: replies on the post
    Post.all_objects.filter(pk=instance.post_id).update(reply_count=F("reply_count") + 1)


@transaction.atomic
def content_hide(*, instance: ModeratedContent, reason: str) -> ModeratedContent:
    """A moderator hides a post, reply or use case: a soft delete that records why."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": ["Say why the content is hidden."]})
    instance = _lock(type(instance), instance.pk)
    if instance.is_deleted:
        raise Conflict(f"This {instance._meta.verbose_name} is already hidden or deleted.", code="already_hidden")
    hook = {Post: post_delete, Reply: reply_delete, UseCase: use_case_delete}[type(instance)]
    hook(instance=instance, reason=f"Hidden by a moderator: {reason}")
    return instance


# --- Posts ------------------------------------------------------------------------------------


def _author_or_actor(author):
    """The author is the post's (or reply's) data: by default whoever acts (``core.context``);
    a moderator in the admin names another member."""
    author = author if author is not None else get_current_user()
    if author is None:
        raise Invalid({"author": ["Say who writes it."]})
    return author


@transaction.atomic
def post_create(
    *,
    title: str,
    body: str,
    author=None,
    category: str | None = None,
    tags: Iterable[str] = (),
    status: str = PostStatus.PUBLISHED,
    pinned: bool = False,
) -> Post:
    """``author`` defaults to the acting user; pinning is for a moderator acting (or, outside a
    request and ``acting_as``, a moderator author)."""
    if status not in (PostStatus.DRAFT, PostStatus.PUBLISHED):
        raise Invalid({"status": ["A new post is a draft or published."]})
    author = _author_or_actor(author)
    if pinned and not is_moderator(get_current_user() or author):
        raise Forbidden("Only moderators pin posts.", code="not_moderator")
    data = {
        "author": author,
        "title": _require_text("title", title).strip(),
        "body": _require_text("body", body),
        "body_html": markdown.render(body),
        "status": status,
        "pinned": pinned,
    }
    if category is not None:
        data["category"] = category
    post = model_create(model=Post, data=data)
    post.tags.set(_tags(tags))
    Subscription.objects.create(user=author, post=post)
    return post


@transaction.atomic
def post_update(*, post: Post, tags: Iterable[str] | None = None, **fields) -> Post:
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    _require_edit(post)
    unknown = set(fields) - {"title", "body", "category", "status", "pinned"}
    if unknown:
        raise Invalid({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    moderator = is_moderator(get_current_user())
    if "pinned" in fields and fields["pinned"] != post.pinned and not moderator:
        raise Forbidden("Only moderators pin posts.", code="not_moderator")
    publishing = post.status == PostStatus.DRAFT and fields.get("status") == PostStatus.PUBLISHED
    if "status" in fields and fields["status"] != post.status and not moderator and not publishing:
        raise Forbidden("Authors publish their drafts; closing, reopening and archiving are for moderators.")
    if not moderator and post.status in (PostStatus.CLOSED, PostStatus.ARCHIVED):
        raise Conflict(f"This post is {post.status}; only moderators may change it.", code="post_closed")
    data = dict(fields)
    for name in ("title", "body"):
        if name in data:
            data[name] = _require_text(name, data[name])
    if "title" in data:
        data["title"] = data["title"].strip()
    if data.get("body", post.body) != post.body:
        data["body_html"] = markdown.render(data["body"])
    publishing_now = data.get("status", post.status) != post.status and data["status"] == PostStatus.PUBLISHED
    if publishing_now and post.reply_count == 0:
        data["last_activity_at"] = timezone.now()
    model_update(instance=post, data=data)
    if tags is not None:
        post.tags.set(_tags(tags))
    return post


@transaction.atomic
def post_set_status(*, post: Post, status: str) -> Post:
    """Close, reopen or archive (moderators)."""
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    if status not in PostStatus.values:
        raise Invalid({"status": [f"Unknown status {status!r}."]})
    model_update(instance=post, data={"status": status})
    return post


@transaction.atomic
def post_set_pinned(*, post: Post, pinned: bool) -> Post:
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    model_update(instance=post, data={"pinned": pinned})
    return post


def post_view(*, post: Post, user) -> bool:
    """Count one view of ``post`` by ``user`` today. True when counted, False when this member
    had already been counted today. The row insert and the counter move in one transaction;
    the unique (post, user, day) row makes concurrent calls count once."""
    today = timezone.localdate()
    with transaction.atomic():
        if connection.vendor == "mysql":
            # InnoDB's foreign-key check holds a shared lock on the post for the insert below, so two members
            # counted at once would each wait on the other's to move the counter (a deadlock): lock the post
            # first. PostgreSQL's key-share lock does not stand in the counter's way.
            list(lock_rows(Post.all_objects.filter(pk=post.pk)).values_list("pk"))
        try:
            with transaction.atomic():
                PostView.objects.create(post=post, user=user, day=today)
        except IntegrityError:
            return False
        # counter: views of the post
        Post.all_objects.filter(pk=post.pk).update(view_count=F("view_count") + 1)
    return True


# --- Votes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    score: int
    value: int  # the member's vote now: 1, -1 or 0 for none


VOTE_KEYS = ("user", "post", "reply")


def _vote(*, user, target_model, target_pk, value) -> VoteResult:
    if value not in (1, -1, 0) or isinstance(value, bool):
        raise Invalid({"value": ["A vote is 1 (up), -1 (down) or 0 (remove my vote)."]})
    # Locking the voted row queues every vote on it, so reading the member's current vote,
    # writing the new one and moving the score by the difference happen as one step.
    target = _lock(target_model, target_pk)
    post = target if target_model is Post else target.post
    if target.is_deleted or post.is_deleted or post.status == PostStatus.DRAFT:
        raise NotFound(f"No such {target_model._meta.verbose_name}.")
    if target.author_id == user.pk:
        raise Invalid({"value": ["You cannot vote on your own content."]}, code="own_content")
    if post.status == PostStatus.ARCHIVED:
        raise Conflict("This post is archived; votes are closed.", code="post_archived")
    key = {"post": target} if target_model is Post else {"reply": target}
    existing = Vote.objects.filter(user=user, **key).first()
    old = existing.value if existing else 0
    if value != old:
        if value == 0:
            existing.delete()
        elif existing is not None:
            # Who and what are the locked target and its voter: only the value is checked.
            model_update(instance=existing, data={"value": value, "updated_at": timezone.now()}, exclude=VOTE_KEYS)
        else:
            Vote.objects.create(user=user, value=value, **key)
        # counter: the target's score moves by the difference
        target_model.all_objects.filter(pk=target.pk).update(score=F("score") + (value - old))
        target.refresh_from_db(fields=["score"])
    return VoteResult(score=target.score, value=value)


@transaction.atomic
def post_vote(*, post: Post, user, value: int) -> VoteResult:
    return _vote(user=user, target_model=Post, target_pk=post.pk, value=value)


@transaction.atomic
def reply_vote(*, reply: Reply, user, value: int) -> VoteResult:
    return _vote(user=user, target_model=Reply, target_pk=reply.pk, value=value)


# --- Best answer ----------------------------------------------------------------------------


def _require_post_author_or_moderator(post: Post):
    actor = get_current_user()
    if not (is_moderator(actor) or (actor is not None and post.author_id == actor.pk)):
        raise Forbidden("Only the post's author or a moderator chooses the best answer.", code="not_author")
    return actor


@transaction.atomic
def post_set_best_answer(*, post: Post, reply: Reply) -> Post:
    """Only the post's author or a moderator (acting, ``core.context``); only a live reply of
    this post; replaces any previous best answer."""
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    actor = _require_post_author_or_moderator(post)
    reply = Reply.all_objects.filter(pk=reply.pk).first()
    if reply is None or reply.is_deleted:
        raise Invalid({"reply": ["No such reply."]})
    if reply.post_id != post.pk:
        raise Invalid({"reply": ["This reply belongs to another post."]}, code="reply_of_other_post")
    if reply.is_best_answer:
        return post
    previous = Reply.all_objects.filter(post=post, is_best_answer=True).values_list("pk", flat=True).first()
    update_with_history(
        Reply.all_objects.filter(post=post, is_best_answer=True), is_best_answer=False, reason="best answer replaced"
    )
    update_with_history(Reply.all_objects.filter(pk=reply.pk), is_best_answer=True, reason="chosen as best answer")
    model_update(instance=post, data={"has_best_answer": True})
    if reply.author_id != actor.pk:
        Notification.objects.create(
            recipient_id=reply.author_id, kind=NotificationKind.BEST_ANSWER, post=post, reply=reply, actor=actor
        )
    payload = payloads.best_answer_chosen(post=post, reply=reply, previous_reply_id=previous, chosen_at=timezone.now())
    publish("community.best_answer.chosen", obj=post, payload=payload)
    return post


@transaction.atomic
def post_clear_best_answer(*, post: Post) -> Post:
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    _require_post_author_or_moderator(post)
    update_with_history(
        Reply.all_objects.filter(post=post, is_best_answer=True), is_best_answer=False, reason="best answer cleared"
    )
    model_update(instance=post, data={"has_best_answer": False})
    return post


# --- Replies --------------------------------------------------------------------------------


@transaction.atomic
def reply_create(*, post: Post, body: str, author=None, parent: Reply | None = None) -> Reply:
    """``author`` defaults to the acting user (``core.context``)."""
    # The post row is locked so a reply never lands on a post being closed at the same moment.
    post = _lock(Post, post.pk)
    if post.is_deleted:
        raise NotFound("No such post.")
    if post.status not in REPLYABLE_STATUSES:
        raise Conflict(
            f"This post is {post.get_status_display().lower()}; it takes no new replies.", code="post_not_open"
        )
    if parent is not None:
        if parent.post_id != post.pk:
            raise Invalid({"parent": ["The reply answered belongs to another post."]}, code="parent_of_other_post")
        if parent.is_deleted:
            raise Invalid({"parent": ["The reply answered has been deleted."]})
    body = _require_text("body", body)
    author = _author_or_actor(author)
    reply = model_create(
        model=Reply,
        data={"post": post, "author": author, "parent": parent, "body": body, "body_html": markdown.render(body)},
        exclude=("post", "author", "parent"),  # the post locked and the parent checked above; the author acts
    )
    # counter: replies on the post (and the activity time that orders the listing, which moves with it)
    Post.all_objects.filter(pk=post.pk).update(reply_count=F("reply_count") + 1, last_activity_at=timezone.now())
    _notify_followers(post=post, reply=reply, author=author)
    publish("community.reply.created", obj=reply, payload=payloads.reply_created(reply))
    return reply


@transaction.atomic
def reply_update(*, reply: Reply, body: str) -> Reply:
    reply = _lock(Reply, reply.pk)
    if reply.is_deleted:
        raise NotFound("No such reply.")
    _require_edit(reply)
    if not is_moderator(get_current_user()) and reply.post.status in (PostStatus.CLOSED, PostStatus.ARCHIVED):
        raise Conflict(f"This post is {reply.post.status}; its replies can no longer be edited.", code="post_closed")
    body = _require_text("body", body)
    if body != reply.body:
        model_update(instance=reply, data={"body": body, "body_html": markdown.render(body)})
    return reply


# --- Follows and notifications --------------------------------------------------------------


def _notify_followers(*, post: Post, reply: Reply, author) -> int:
    """One notification row per follower except the reply's author, in one INSERT; emails to
    those who opted in, sent once the reply is committed."""
    followers = list(Subscription.objects.filter(post=post).exclude(user=author).values_list("user_id", flat=True))
    if not followers:
        return 0
    Notification.objects.bulk_create(
        [
            Notification(recipient_id=user_id, kind=NotificationKind.REPLY, post=post, reply=reply, actor=author)
            for user_id in followers
        ]
    )
    emails = list(
        get_user_model()
        .objects.filter(pk__in=followers, community_preference__email_on_reply=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if emails:
        subject = f"New reply to “{post.title}”"
        text = f"{author.get_username()} replied to “{post.title}”:\n\n{reply.body}\n"
        transaction.on_commit(lambda: _send_emails(subject, text, emails))
    return len(followers)


def _send_emails(subject: str, text: str, recipients: list[str]) -> None:
    messages = [(subject, text, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients]
    try:
        mail.send_mass_mail(messages, fail_silently=False)
    except Exception:  # the reply is committed; a mail outage is logged, not turned into an error
        logger.exception("Sending %d reply notification email(s) failed", len(messages))


@transaction.atomic
def subscription_follow(*, user, post: Post) -> tuple[Subscription, bool]:
    hidden_draft = post.status == PostStatus.DRAFT and post.author_id != user.pk and not is_moderator(user)
    if post.is_deleted or hidden_draft:
        raise NotFound("No such post.")
    try:
        with transaction.atomic():
            return Subscription.objects.get_or_create(user=user, post=post)
    except IntegrityError:  # followed at the same moment by another request of this member
        return Subscription.objects.get(user=user, post=post), False


@transaction.atomic
def subscription_unfollow(*, user, post: Post) -> bool:
    deleted, _ = Subscription.objects.filter(user=user, post=post).delete()
    return bool(deleted)


@transaction.atomic
def notification_mark_read(*, notification: Notification, user) -> Notification:
    if notification.recipient_id != user.pk:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        # race-safe conditional write: only an unread notification takes a read time
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    # race-safe conditional write: only unread notifications take a read time
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def preference_update(*, user, email_on_reply: bool) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_on_reply": email_on_reply}
    )
    return preference


# --- Reports --------------------------------------------------------------------------------


@transaction.atomic
def report_create(
    *, reporter, reason: str, text: str = "", post: Post | None = None, reply: Reply | None = None
) -> Report:
    if (post is None) == (reply is None):
        raise Invalid({"non_field_errors": ["Report exactly one post or one reply."]})
    target = post or reply
    if target.is_deleted or (reply is not None and reply.post.is_deleted):
        raise NotFound(f"No such {target._meta.verbose_name}.")
    if reason not in ReportReason.values:
        raise Invalid({"reason": [f"Unknown reason {reason!r}; one of {', '.join(ReportReason.values)}."]})
    if reason == ReportReason.OTHER and not (text or "").strip():
        raise Invalid({"text": ["Say what is wrong when the reason is “other”."]})
    key = {"post": post} if post is not None else {"reply": reply}
    duplicate = Conflict(
        f"You have already reported this {target._meta.verbose_name}; moderators have not resolved it yet.",
        code="already_reported",
    )
    if Report.objects.filter(reporter=reporter, status=ReportStatus.OPEN, **key).exists():
        raise duplicate
    try:
        with transaction.atomic():
            return Report.objects.create(reporter=reporter, reason=reason, text=text or "", **key)
    except IntegrityError:
        raise duplicate from None


@transaction.atomic
def report_resolve(*, report: Report, resolution: str, note: str = "") -> Report:
    """``hide`` hides the reported content (and closes every open report on it); ``dismiss``
    closes this report and leaves the content as it is. Resolved by the acting user."""
    report = lock_rows(Report.objects.select_related("post", "reply")).get(pk=report.pk)
    if report.status != ReportStatus.OPEN:
        raise Conflict("This report is already resolved.", code="report_resolved")
    if resolution not in ReportResolution.values:
        raise Invalid({"resolution": [f"One of {', '.join(ReportResolution.values)}."]})
    now = timezone.now()
    resolved = {"resolved_by": get_current_user(), "resolved_at": now, "resolution_note": note}
    if resolution == ReportResolution.HIDE:
        target = report.target
        if not target.is_deleted:
            content_hide(instance=target, reason=note or f"reported as {report.get_reason_display().lower()}")
        key = {"reply": report.reply} if report.reply_id else {"post": report.post}
        others = Report.objects.filter(status=ReportStatus.OPEN, **key).exclude(pk=report.pk)
        update_with_history(others, status=ReportStatus.HIDDEN, **resolved)
        status = ReportStatus.HIDDEN
    else:
        status = ReportStatus.DISMISSED
    model_update(instance=report, data={"status": status, **resolved})
    return report


# --- Use cases ------------------------------------------------------------------------------

_UNSET = object()


def _set_detail(use_case: UseCase, detail) -> None:
    current = UseCaseDetail.objects.filter(use_case=use_case).first()
    if detail is None:
        if current is not None:
            current.delete()
        return
    if not isinstance(detail, dict):
        raise Invalid({"detail": ["Must be an object with challenge, solution, implementation_phases, results."]})
    unknown = sorted(set(detail) - set(DETAIL_SCHEMAS))
    if unknown:
        raise Invalid({f"detail.{name}": ["This field is not known."] for name in unknown})
    parts = {name: detail[name] for name in DETAIL_SCHEMAS if name in detail}
    if current is None:
        missing = [name for name in DETAIL_SCHEMAS if name not in parts]
        if missing:
            raise Invalid({f"detail.{name}": ["This field is required."] for name in missing})
    errors = detail_errors(parts)
    if errors:
        raise Invalid({f"detail.{name}": messages for name, messages in errors.items()}, code="invalid_detail")
    if current is None:
        model_create(model=UseCaseDetail, data={"use_case": use_case, **parts}, exclude=("use_case",))
    else:
        model_update(instance=current, data=parts, exclude=("use_case",))


@transaction.atomic
def use_case_create(*, tags: Iterable[str] = (), detail=None, **fields) -> UseCase:
    use_case = model_create(model=UseCase, data=fields)
    use_case.tags.set(_tags(tags))
    if detail is not None:
        _set_detail(use_case, detail)
    return use_case


USE_CASE_FIELDS = (
    "title",
    "company",
    "industry",
    "region",
    "city",
    "latitude",
    "longitude",
    "summary",
    "technologies",
    "outcomes",
    "status",
)


@transaction.atomic
def use_case_update(*, use_case: UseCase, tags: Iterable[str] | None = None, detail=_UNSET, **fields) -> UseCase:
    use_case = _lock(UseCase, use_case.pk)
    if use_case.is_deleted:
        raise NotFound("No such use case.")
    _require_edit(use_case)
    unknown = set(fields) - set(USE_CASE_FIELDS)
    if unknown:
        raise Invalid({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    model_update(instance=use_case, data=fields)
    if tags is not None:
        use_case.tags.set(_tags(tags))
    if detail is not _UNSET:
        _set_detail(use_case, detail)
    return use_case
