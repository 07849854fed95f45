from django.conf import settings
from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=`; never more than API_MAX_PAGE_SIZE rows in one answer."""

    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE
