"""Who may do what in the forum, beyond model permissions: one place that services, the API's
object checks and the dashboard all ask."""

MODERATE_PERM = "community.moderate_post"


def is_moderator(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(MODERATE_PERM))


def can_edit(user, obj) -> bool:
    """Authors edit and delete their own content; moderators anything."""
    owner_id = obj.author_id if hasattr(obj, "author_id") else obj.created_by_id
    return is_moderator(user) or (user is not None and owner_id == user.pk)
