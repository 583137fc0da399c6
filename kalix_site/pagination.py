from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Keyset pagination on the primary key: stable under inserts and fast at any depth."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
