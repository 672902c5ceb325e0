"""The base FilterSet and the filter fields shared by the apps' filtersets."""

import copy
from datetime import UTC

import django_filters
from django import forms
from django_filters.filters import QuerySetRequestMixin


class _SharedFields(dict):
    """A form class's fields, handed to each form as they are instead of deep-copied."""

    def __deepcopy__(self, memo):
        return dict(self)


class _CleansGivenFields:
    """A filter form that cleans only the fields the query string gives, and required ones.

    An absent filter's empty value filters nothing, yet Django cleans every field of a form, so
    a search naming three of ten filters paid for ten. Absent fields are left out of
    ``cleaned_data`` (the filterset applies what is there), as a ModelForm leaves fields absent
    from the data out of its instance; the form still shows every field."""

    def _clean_fields(self):
        every = self.fields
        self.fields = {
            name: field
            for name, field in every.items()
            if field.required or not field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name))
        }
        try:
            super()._clean_fields()
        finally:
            self.fields = every


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet without the rebuilding it does on every request (a deep copy of
    every filter, then a new form class whose every instance deep-copies every field again).

    Filters carry no per-request state but their parent, so each request gets shallow copies
    bound to it; the form class is built once per FilterSet class and its forms share the
    fields, which validation never changes. A filterset with a filter whose form field depends on
    the request (a ``ModelChoiceFilter`` with a callable queryset) builds its form per request.
    """

    _form_classes: dict = {}

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        base_filters = self.base_filters
        self.base_filters = {}  # nothing for the parent to deep-copy
        try:
            super().__init__(data, queryset, request=request, prefix=prefix)
        finally:
            del self.base_filters
        model = self.queryset.model
        for name, base in base_filters.items():
            filter_ = copy.copy(base)
            filter_.model = model
            filter_.parent = self
            if getattr(filter_, "_method", None):
                filter_.method = filter_._method  # rebinds the method proxy to this copy
            self.filters[name] = filter_

    def _build_form_class(self):
        form_class = super().get_form_class()
        return type(form_class.__name__, (_CleansGivenFields, form_class), {})

    def get_form_class(self):
        cls = type(self)
        if any(isinstance(filter_, QuerySetRequestMixin) for filter_ in cls.base_filters.values()):
            return self._build_form_class()
        form_class = FilterSet._form_classes.get(cls)
        if form_class is None:
            form_class = self._build_form_class()
            form_class.base_fields = _SharedFields(form_class.base_fields)
            FilterSet._form_classes[cls] = form_class
        return form_class


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
