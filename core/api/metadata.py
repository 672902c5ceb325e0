"""What ``OPTIONS`` answers for every endpoint."""

from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    """DRF's metadata, safe on custom routes without an object.

    For a route that accepts ``PUT``, DRF checks object permissions by calling
    ``view.get_object()``; on a collection-level action that takes ``PUT`` (such as
    ``notifications/preferences/``) there is no key in the URL, and ``get_object`` fails
    with a 500. There is no object to check there, so the call is skipped.
    """

    def determine_actions(self, request, view):
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if hasattr(view, "get_object") and lookup and lookup not in (getattr(view, "kwargs", None) or {}):
            view.get_object = lambda: None  # an instance attribute, gone with the view after this request
        return super().determine_actions(request, view)
