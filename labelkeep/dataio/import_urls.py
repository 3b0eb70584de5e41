"""Routes of the import endpoints (included by labelkeep/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
