from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """For small lists: ``?page=2&page_size=100``."""

    page_size_query_param = "page_size"
    max_page_size = 500


class CursorPagination(pagination.CursorPagination):
    """For large, growing lists (loads, calls): stable pages on an indexed column,
    no COUNT(*) and no drift when rows arrive between pages."""

    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def get_ordering(self, request, queryset, view):
        ordering = tuple(super().get_ordering(request, queryset, view))
        # Rows that tie on the ordering (loads picked up at 08:00) must come back in one fixed
        # order, or the offset within a position would repeat some of them and skip others.
        if not any(name.lstrip("-") in ("pk", "id") for name in ordering):
            ordering = (*ordering, "pk")
        return ordering
