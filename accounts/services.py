"""Writes on accounts: API tokens."""

from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from core.errors import NotFound

from .auth import forget_tokens
from .models import TokenInfo


def token_info_ensure(*, token: AuthToken, client_name: str = "") -> TokenInfo:
    """The info row of a token (created with it; see ``accounts.signals``)."""
    info, created = TokenInfo.objects.get_or_create(token=token, defaults={"client_name": client_name})
    if not created and client_name and info.client_name != client_name:
        info.client_name = client_name
        info.save(update_fields=["client_name"])
    return info


@transaction.atomic
def token_revoke(*, user, token_id) -> None:
    """Revoke one of ``user``'s tokens by its public id; another user's token is not found."""
    info = TokenInfo.objects.select_related("token").filter(pk=token_id, token__user=user).first()
    if info is None:
        raise NotFound("No API token of yours has this id.")
    info.token.delete()


@transaction.atomic
def tokens_revoke(*, tokens) -> int:
    """Revoke tokens picked by an administrator (the user admin's token list)."""
    digests = [token.digest for token in tokens]
    deleted, _ = AuthToken.objects.filter(digest__in=digests).delete()
    return deleted


@transaction.atomic
def user_tokens_revoke(*, user) -> int:
    """Revoke every API token of ``user``: what a password change does (``accounts.signals``), so a
    token taken with the old password, or handed out before it, stops working. Returns how many."""
    digests = list(AuthToken.objects.filter(user=user).values_list("digest", flat=True))
    if not digests:
        return 0
    # Deleting drops each token's cached identity (accounts.signals); drop it again once committed,
    # in case a request that read the token before the commit cached it meanwhile.
    _, per_model = AuthToken.objects.filter(digest__in=digests).delete()
    transaction.on_commit(lambda: forget_tokens(digests))
    return per_model.get(AuthToken._meta.label, 0)


def tokens_purge_expired() -> int:
    """Delete API tokens past their expiry (knox only drops a user's expired tokens when that user
    next signs in with one; this clears those of users who never come back). Returns how many."""
    _, per_model = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return per_model.get(AuthToken._meta.label, 0)
