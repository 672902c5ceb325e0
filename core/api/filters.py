"""The base FilterSet and the filter fields shared by the apps' filtersets."""

from datetime import UTC

import django_filters
from django import forms

from core.fastpaths.filters import FilterSet

__all__ = ["FilterSet", "IsoDateTimeFilter", "UTCIsoDateTimeField"]


class UTCIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time whose offset may be anything Python accepts (up to ±23:59);
    it is turned into UTC before it reaches the database, which refuses offsets beyond
    ±15:59 ("time zone displacement out of range") and dates that leave its range."""

    def to_python(self, value):
        try:
            parsed = super().to_python(value)
            if parsed is None or parsed.tzinfo is None:
                return parsed
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``?from=2026-05-01T08:00:00-05:00``: any valid offset, compared in UTC."""

    field_class = UTCIsoDateTimeField
