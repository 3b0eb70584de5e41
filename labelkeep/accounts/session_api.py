"""Session sign-in for browser scripts: CSRF-protected, throttled (429 + Retry-After)."""

from __future__ import annotations

from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labelkeep.accounts import login
from labelkeep.accounts.serializers import LoginSerializer, UserSerializer
from labelkeep.api.schema import RETRY_AFTER, responses

_CSRF_403 = (
    403,
    "The CSRF check failed: GET /api/auth/csrf first, then send its token as `X-CSRFToken`.",
)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(APIView):
    """Hands a browser script the CSRF token for its session writes."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["sessions"],
        summary="Get a CSRF token",
        responses={200: inline_serializer("CsrfToken", {"csrf_token": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request._request)})


class _Throttled(exceptions.Throttled):
    """A 429 whose message already names the wait (DRF's would repeat it), with the
    wait in `Retry-After`."""

    def __init__(self, refused: login.LoginThrottled) -> None:
        super().__init__(detail=str(refused))
        self.wait = refused.wait


@method_decorator(csrf_protect, name="dispatch")
class LoginView(APIView):
    """Signs in with e-mail and password and starts a session (CSRF token required)."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["sessions"],
        summary="Sign in",
        request=LoginSerializer,
        parameters=[RETRY_AFTER],
        responses=responses(
            {200: UserSerializer},
            400,
            (
                401,
                "Wrong e-mail address or password, or (said only after the password "
                "proved right) no active membership in any organization.",
            ),
            _CSRF_403,
            413,
            429,
        ),
    )
    def post(self, request: Request) -> Response:
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            user = login.sign_in(
                request._request, form.validated_data["email"], form.validated_data["password"]
            )
        except login.LoginThrottled as exc:
            raise _Throttled(exc) from None
        except login.LoginFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return Response(UserSerializer(user).data)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Session realm="labelkeep"'


@method_decorator(csrf_protect, name="dispatch")
class LogoutView(APIView):
    """Ends the caller's session, if any (CSRF token required)."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["sessions"],
        summary="Sign out",
        request=None,
        responses=responses({204: None}, _CSRF_403),
    )
    def post(self, request: Request) -> Response:
        login.sign_out(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
