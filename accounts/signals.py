"""Keeping what is derived from users and tokens in step with them."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from knox.models import AuthToken

from .auth import forget_tokens
from .services import user_tokens_revoke
from .signin import failure_record

User = get_user_model()


@receiver(post_save, sender=AuthToken, dispatch_uid="accounts.token_info")
def create_token_info(sender, instance, created, raw=False, **kwargs):
    """Every token gets its public id, however it was made (sign-in, command, admin)."""
    if created and not raw:
        from .models import TokenInfo

        TokenInfo.objects.get_or_create(token=instance)


# --- The cached identity of API tokens (accounts.auth) follows every change ----------------


def forget_users(user_ids) -> None:
    user_ids = list(user_ids)
    if user_ids:
        forget_tokens(AuthToken.objects.filter(user_id__in=user_ids).values_list("digest", flat=True))


def users_of_groups(group_ids):
    return User.groups.through.objects.filter(group_id__in=list(group_ids)).values_list("user_id", flat=True)


@receiver(post_delete, sender=AuthToken, dispatch_uid="accounts.forget_deleted_token")
@receiver(post_save, sender=AuthToken, dispatch_uid="accounts.forget_changed_token")
def forget_changed_token(sender, instance, created=False, **kwargs):
    if not created:
        forget_tokens([instance.digest])


@receiver(post_save, sender=User, dispatch_uid="accounts.forget_saved_user")
def forget_saved_user(sender, instance, created, raw=False, **kwargs):
    if not created:
        forget_users([instance.pk])


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.forget_regrouped_users")
@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="accounts.forget_repermitted_users")
def forget_users_with_new_rights(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:  # user.groups / user.user_permissions changed
        forget_users([instance.pk])
    elif isinstance(instance, Group):  # group.user_set changed
        forget_users(
            pk_set if pk_set is not None else User.objects.filter(groups=instance).values_list("pk", flat=True)
        )
    else:  # permission.user_set changed
        forget_users(pk_set if pk_set is not None else instance.user_set.values_list("pk", flat=True))


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="accounts.forget_group_members")
def forget_members_of_changed_groups(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:  # group.permissions changed
        forget_users(users_of_groups([instance.pk]))
    elif isinstance(instance, Permission):  # permission.group_set changed
        groups = pk_set if pk_set is not None else instance.group_set.values_list("pk", flat=True)
        forget_users(users_of_groups(groups))


@receiver(pre_delete, sender=Group, dispatch_uid="accounts.forget_members_of_deleted_group")
def forget_members_of_deleted_group(sender, instance, **kwargs):
    forget_users(users_of_groups([instance.pk]))


# --- A password change signs out every API client --------------------------------------------


@receiver(pre_save, sender=User, dispatch_uid="accounts.note_password_change")
def note_password_change(sender, instance, raw=False, update_fields=None, **kwargs):
    """Mark a save that changes the password, whoever changes it: the admin's password form,
    ``manage.py changepassword``, a password reset, any code calling ``set_password()``; and
    "password-based sign-in disabled" (``set_unusable_password()``) as well.

    ``set_password()`` keeps the new raw password on ``_password`` until ``save()`` has run (Django
    reads it there to call the validators' ``password_changed()``); Django clears it before saving a
    hash upgraded at sign-in, which changes the hash but not the password."""
    if raw or instance._state.adding or (update_fields is not None and "password" not in update_fields):
        return
    if instance._password is None:
        if instance.has_usable_password():
            return  # not changed, or only rehashed
        stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
        if stored is None or not is_password_usable(stored):
            return  # was disabled already
    instance._revoke_tokens = True


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender, instance, created, raw=False, **kwargs):
    if getattr(instance, "_revoke_tokens", False):
        instance._revoke_tokens = False
        user_tokens_revoke(user=instance)


# --- Sign-in protection (accounts.signin) -------------------------------------------------


@receiver(user_login_failed, dispatch_uid="accounts.count_failed_sign_in")
def count_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Every failed ``authenticate()`` counts towards its username's lockout, known user or not."""
    failure_record(username=credentials.get(User.USERNAME_FIELD), request=request)
