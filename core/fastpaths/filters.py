"""django-filter's FilterSet without its per-request rebuilding, and filtering a prepared query.

Private APIs it touches, each held by tests/core/test_fastpaths_guards.py:

* django-filter: ``FilterSet.base_filters`` is replaced for the parent's ``__init__`` (so it deep-copies
  nothing), and a filter's ``_method`` proxy is rebound to each copy;
* Django forms: ``Form._clean_fields`` is narrowed to the fields the query string gives.

``filter_queryset`` is django-filter's own loop without its ``isinstance(QuerySet)`` assertion, so a
``PreparedQuery`` (``core.fastpaths.prepared``) goes through the filters as a queryset would.
"""

import copy

import django_filters
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

    def filter_queryset(self, queryset):
        for name, value in self.form.cleaned_data.items():
            queryset = self.filters[name].filter(queryset, value)
        return queryset

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
