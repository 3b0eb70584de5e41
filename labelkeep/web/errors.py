"""JSON errors for the API; plain pages elsewhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

import labelkeep


def _body(status: int, detail: Any, **extra: Any) -> dict[str, Any]:
    return {"status_code": status, "version": labelkeep.__version__, "detail": detail, **extra}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as `{status_code, version, detail, validation_errors?}`."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        if isinstance(errors, dict) and set(errors) == {"detail"}:
            response.data = _body(response.status_code, errors["detail"])
        else:
            response.data = _body(
                response.status_code, "Validation error", validation_errors=errors
            )
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = _body(response.status_code, detail)
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _page_or_json(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(_body(status, detail), status=status)
    return render(request, "web/error.html", {"status": status, "detail": detail}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page_or_json(request, 404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _page_or_json(request, 500, "Internal server error.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page_or_json(request, 400, "Bad request.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page_or_json(request, 403, "You do not have permission to perform this action.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _page_or_json(
        request, 403, "CSRF check failed: reload the page, or use a token for API calls."
    )
