"""Pages of the web app that belong to no domain app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from labelkeep.security.headers import CONTENT_SECURITY_POLICY


@login_required
def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference, rendered by a bundled (not remote) Redoc script."""
    response = render(request, "web/api_docs.html")
    # Redoc injects its own <style> elements and runs its search in a blob: worker;
    # scripts stay restricted to this origin.
    response.headers["Content-Security-Policy"] = (
        CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        + "; worker-src 'self' blob:"
    )
    return response
