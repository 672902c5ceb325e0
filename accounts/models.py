from django.contrib.auth.models import AbstractUser
from django.db import models
from simple_history.models import HistoricalRecords


class User(AbstractUser):
    """A person or a service client (such as the voice agent) using the platform."""

    company = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=200, blank=True)
    expertise = models.JSONField(default=list, blank=True, help_text='Expertise tags, e.g. ["PLC", "SCADA"].')

    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    class Meta(AbstractUser.Meta):
        ordering = ["username"]

    @property
    def role_names(self) -> list[str]:
        return sorted(group.name for group in self.groups.all())
