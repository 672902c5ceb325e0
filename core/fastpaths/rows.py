"""Many flat rows (a CSV file's) validated as a serializer validates one request body.

``serializer(data=row).is_valid()`` per row spends most of its time in DRF's machinery around
the fields (a serializer per row, the writable fields walked through a generator, a lookup of
``validate_<name>`` and ``set_value`` per field...), not in the rules themselves. ``RowValidator``
runs the same field instances, in the same order, with the same messages, in a tight loop:

* the strict-input rule (unknown names refused, ``null`` on an optional field without a null
  value means "not given") is the serializer's ``StrictInputMixin``'s, and a file's header can
  be checked once (``check_columns``);
* each distinct cell text is validated once per column and the outcome reused: a scalar field's
  outcome depends on its text alone (and on the current time zone, so a validator serves one
  file), and what rows share is immutable (str, int, Decimal, datetime...). Fields whose outcome
  may depend on anything else (a callable default, a validator that needs the serializer's
  context, such as a uniqueness check) run every time;
* the serializer's own ``validate_<name>`` methods, validators and ``validate()`` run per row.

A serializer that changes the machinery itself (its own ``to_internal_value`` or
``run_validation``) is validated row by row through the serializer instead.
tests/core/test_api_rows.py holds the outcome equal to ``is_valid()`` on random rows.

Private API it touches (tests/core/test_fastpaths_guards.py): DRF's ``Serializer._writable_fields``.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import Field, SkipField, empty, get_error_detail
from rest_framework.serializers import as_serializer_error
from rest_framework.utils import html

from core.api.serializers import StrictInputMixin, unknown_fields_error

# What a validated value may be for rows to share it.
SHAREABLE = (str, int, float, bool, Decimal, datetime, date, time, timedelta, UUID, type(None))


class _Column:
    """One writable field of the serializer: what it makes of a row's cell."""

    def __init__(self, serializer, field, strict: bool):
        self.name = field.field_name
        self.field = field
        # Where the value goes in the validated data: a key, or a path for a dotted source.
        self.key = field.source_attrs[0] if len(field.source_attrs) == 1 else None
        self.source = field.source_attrs
        self.validate_method = getattr(serializer, "validate_" + field.field_name, None)
        # StrictInputMixin drops ``None`` given for an optional field that has no null value.
        self.none_is_absent = strict and not field.required and not field.allow_null
        self.reusable = not (field.default is not empty and callable(field.default)) and not any(
            getattr(validator, "requires_context", False) for validator in field.validators
        )
        # Outcomes by cell text (or ``empty`` for no cell): (True, value), (False, error detail)
        # or (None, None) when the field is skipped. Read straight from the row loop, so only
        # outcomes that need nothing more (no ``validate_<name>`` method) are kept here.
        self.outcomes = {}

    def outcome(self, value):
        """The field's outcome for a cell ``value`` not found in ``outcomes``."""
        if value is None and self.none_is_absent:
            value = empty
        if self.reusable and self.validate_method is None and (value is empty or type(value) is str):
            outcome = self.outcomes.get(value)
            if outcome is None:
                outcome = self._run(value)
                if outcome[0] is not True or isinstance(outcome[1], SHAREABLE):
                    self.outcomes[value] = outcome
            return outcome
        ok, result = self._run(value)
        if ok and self.validate_method is not None:
            try:
                result = self.validate_method(result)
            except ValidationError as exc:
                return False, exc.detail
            except DjangoValidationError as exc:
                return False, get_error_detail(exc)
        return ok, result

    def _run(self, value):
        try:
            return True, self.field.run_validation(value)
        except ValidationError as exc:
            return False, exc.detail
        except DjangoValidationError as exc:
            return False, get_error_detail(exc)
        except SkipField:
            return None, None


class RowValidator:
    """Validates flat rows (name → value) for ``serializer``, an unbound serializer instance whose
    fields are scalars; ``validate(row)`` answers ``(validated_data, None)`` or ``(None, errors)``
    exactly as ``type(serializer)(data=row, context=serializer.context)`` would."""

    def __init__(self, serializer: serializers.Serializer):
        self.serializer = serializer
        cls = type(serializer)
        self.strict = cls.to_internal_value is StrictInputMixin.to_internal_value
        fields = list(serializer._writable_fields)
        self.fast = (
            cls.run_validation is serializers.Serializer.run_validation
            and (self.strict or cls.to_internal_value is serializers.Serializer.to_internal_value)
            and not serializer.partial
            # Each field reads its value from the row by name (none reads HTML forms or lists its own way).
            and all(type(field).get_value is Field.get_value for field in fields)
        )
        self.known = frozenset(serializer.fields)
        self.columns = [_Column(serializer, field, self.strict) for field in fields]
        self.plan = [(column.name, column.outcomes, column) for column in self.columns]
        self.has_validators = bool(serializer.validators)

    def check_columns(self, names: Iterable[str]) -> dict[str, list[str]]:
        """Refusals for a file's header: columns the serializer does not know (when it refuses
        unknown input) and required fields without a column, with the serializer's messages."""
        names = set(names)
        errors = {}
        if self.strict and not self.known.issuperset(names):
            errors = {name: [str(m) for m in msgs] for name, msgs in self._unknown(names).items()}
        for column in self.columns:
            if column.field.required and column.name not in names:
                errors[column.name] = [str(column.field.error_messages["required"])]
        return errors

    def validate(self, row: Mapping):
        if not self.fast or html.is_html_input(row):
            return self._through_serializer(row)
        if self.strict and not self.known.issuperset(row):
            return None, self._unknown(row)
        values, errors = {}, None
        get = row.get
        for name, outcomes, column in self.plan:
            try:
                ok, result = outcomes[get(name, empty)]
            except (KeyError, TypeError):  # not seen yet (or not text: only text and ``empty`` are kept)
                ok, result = column.outcome(get(name, empty))
            if ok:
                if column.key is not None:
                    values[column.key] = result
                else:
                    self.serializer.set_value(values, column.source, result)
            elif ok is False:
                if errors is None:
                    errors = {}
                errors[name] = result
        if errors:
            return None, ValidationError(errors).detail
        try:
            if self.has_validators:
                self.serializer.run_validators(values)
            values = self.serializer.validate(values)
        except (ValidationError, DjangoValidationError) as exc:
            return None, ValidationError(detail=as_serializer_error(exc)).detail
        return values, None

    def _unknown(self, names):
        return unknown_fields_error(name for name in names if name not in self.known).detail

    def _through_serializer(self, row):
        serializer = type(self.serializer)(data=row, context=self.serializer.context)
        if serializer.is_valid():
            return serializer.validated_data, None
        return None, serializer.errors
