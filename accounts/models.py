import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from simple_history.models import HistoricalRecords

from core.fastpaths.history import HistoryManager
from core.history import history_user


class User(AbstractUser):
    """A person or a service client (such as the voice agent) using the platform."""

    company = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=200, blank=True)
    expertise = models.JSONField(default=list, blank=True, help_text='Expertise tags, e.g. ["PLC", "SCADA"].')

    history = HistoricalRecords(
        excluded_fields=["password", "last_login"], history_manager=HistoryManager, get_user=history_user
    )

    class Meta(AbstractUser.Meta):
        ordering = ["username"]

    @property
    def role_names(self) -> list[str]:
        return sorted(group.name for group in self.groups.all())


class TokenInfo(models.Model):
    """What a user is shown about one of their API tokens. The token itself is only a hash
    (``knox.AuthToken.digest``); this row gives it a public id and the client's name.

    When a token was last used is kept in the shared cache (``accounts.auth``), so an
    authenticated request costs no database write."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE, related_name="info")
    client_name = models.CharField(
        max_length=100, blank=True, help_text="What the client called itself when signing in."
    )

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return self.client_name or str(self.id)
