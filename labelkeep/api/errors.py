"""JSON error bodies for the API: `{status_code, version, detail, validation_errors?}`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

import labelkeep
from labelkeep.api.parsers import form_limit_error


class Refusal(Exception):
    """A well-formed request refused because of the state of what it acts on (a project's
    broken stored config, say). Raised by services; answered as `400` with
    `validation_errors: {field: messages}` (400, not 409: the client retries 409)."""

    field = "non_field_errors"

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def error_body(status: int, detail: Any, **extra: Any) -> dict[str, Any]:
    return {"status_code": status, "version": labelkeep.__version__, "detail": detail, **extra}


def encodable(value: Any) -> Any:
    """`value` with text that UTF-8 cannot encode (a lone surrogate, which some messages
    echo from the input) written as its `\\udxxx` escape, so the error can be sent."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encodable(v) for v in value]
    return value


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as `{status_code, version, detail, validation_errors?}`."""
    # Also raised while authenticating: a session login's CSRF check reads the form.
    exc = form_limit_error(exc) or exc
    if isinstance(exc, ObjectDoesNotExist):
        # Found when the request began, gone by the time it wrote (deleted meanwhile).
        exc = exceptions.NotFound()
    if isinstance(exc, Refusal):
        exc = exceptions.ValidationError({exc.field: exc.messages})
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = encodable(response.data)
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
