"""Days and moments that users put in query strings (``?from=2026-11-01&to=2026-11-30``,
``?before=…``), checked the same way by every endpoint and page that takes a period.

A day becomes the local midnight that starts it and, for the last day of a period, the next
midnight; a moment is turned into UTC for the database. At the edges of Python's calendar that
arithmetic overflows (``to=9999-12-31``; ``from=0001-01-01`` east of UTC), which used to answer
500. So every day and moment must lie between ``EARLIEST_DAY`` and ``LATEST_DAY``, and one
outside is refused like any other bad value: a 400 naming the field (in the API's error body),
or a form error on the page.
"""

from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

# Far wider than any business period, far from where date arithmetic overflows in any time zone.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
OUT_OF_RANGE = f"Must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}."


def check_day(value: date | datetime | None) -> None:
    """A validator (Django forms and DRF fields run it alike): the day, or the moment's day,
    lies between ``EARLIEST_DAY`` and ``LATEST_DAY``."""
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(OUT_OF_RANGE, code="invalid")


class DayField(serializers.DateField):
    """A calendar day (``YYYY-MM-DD``) within the supported range."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(check_day)


class MomentField(serializers.DateTimeField):
    """An ISO 8601 date-time within the supported range. DRF's own field overflows in its time
    zone check near year 1 or 9999 (a 500); the range is checked before that."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except OverflowError:
            raise serializers.ValidationError(OUT_OF_RANGE, code="invalid") from None

    def enforce_timezone(self, value):
        check_day(value)
        return super().enforce_timezone(value)


class DayFormField(forms.DateField):
    """``DayField`` for Django forms (the dashboards' period pickers). Checked in ``validate``:
    a form field would show its own "Enter a valid date." for a validator's ``invalid`` code."""

    def validate(self, value):
        super().validate(value)
        check_day(value)


class PeriodQuerySerializer(serializers.Serializer):
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD``: both optional, both included, as ``start``/``end``
    (``from`` is a Python keyword). Errors name the query parameters, ``from`` and ``to``."""

    QUERY_NAMES = {"from": "start", "to": "end"}

    start = DayField(required=False, allow_null=True)
    end = DayField(required=False, allow_null=True)

    def to_internal_value(self, data):
        renamed = {self.QUERY_NAMES.get(key, key): key for key in data}
        return super().to_internal_value({name: data.get(key) for name, key in renamed.items() if name in self.fields})

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end": ["Must not be before 'from'."]})
        return attrs

    def run_validation(self, data=serializers.empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            names = {field: query for query, field in self.QUERY_NAMES.items()}
            raise serializers.ValidationError(
                {names.get(key, key): value for key, value in exc.detail.items()}
            ) from None
