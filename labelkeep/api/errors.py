"""JSON error bodies for the API: `{status_code, version, detail, validation_errors?}`."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

import labelkeep


def error_body(status: int, detail: Any, **extra: Any) -> dict[str, Any]:
    return {"status_code": status, "version": labelkeep.__version__, "detail": detail, **extra}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as `{status_code, version, detail, validation_errors?}`."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        if isinstance(errors, dict) and set(errors) == {"detail"}:
            response.data = error_body(response.status_code, errors["detail"])
        else:
            response.data = error_body(
                response.status_code, "Validation error", validation_errors=errors
            )
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = error_body(response.status_code, detail)
    return response
