"""A minimal soft-deletable model, so the shared base classes are tested apart from any domain app.
It exists only under the test settings."""

from django.db import models
from django.db.models import Q

from core.models import SoftDeleteModel


class Widget(SoftDeleteModel):
    name = models.CharField(max_length=50)
    size = models.PositiveIntegerField(default=1)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(deleted_at__isnull=True), name="widget_name_live_unique"
            )
        ]

    def __str__(self):
        return self.name
