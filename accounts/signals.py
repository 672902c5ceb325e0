from django.db.models.signals import post_save
from django.dispatch import receiver
from knox.models import AuthToken


@receiver(post_save, sender=AuthToken, dispatch_uid="accounts.token_info")
def create_token_info(sender, instance, created, raw=False, **kwargs):
    """Every token gets its public id, however it was made (sign-in, command, admin)."""
    if created and not raw:
        from .models import TokenInfo

        TokenInfo.objects.get_or_create(token=instance)
