"""The one DRF page style for list endpoints: `{count, next, previous, results}`."""

from __future__ import annotations

from typing import Any

from django.core.paginator import EmptyPage, Paginator
from rest_framework.pagination import PageNumberPagination


class _EmptyPastLastPage(Paginator[Any]):
    """A page number past the last page is an empty page, not EmptyPage (404)."""

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if int(number) < 1:  # only reached once int(number) has succeeded
                raise
            return int(number)


class PagePagination(PageNumberPagination):
    """Page numbers from 1, `page_size` up to 1000. Some client pagers ask for page+1
    after every non-empty page and do not stop on a 404, so past the end is empty."""

    django_paginator_class = _EmptyPastLastPage
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
