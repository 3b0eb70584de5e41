"""Routes of the export endpoints (included by labelkeep/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
