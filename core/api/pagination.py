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
