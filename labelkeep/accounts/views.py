"""Server-rendered account pages: sign in/out, first-start setup, sign-up, account."""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from labelkeep.accounts import login, services, tokens
from labelkeep.accounts.forms import LoginForm, PasswordChangeForm, SetupForm, SignupForm
from labelkeep.accounts.models import Membership, PersonalAccessToken, User
from labelkeep.accounts.permissions import membership_of
from labelkeep.accounts.roles import Perm, has_perm
from labelkeep.audit.services import Origin
from labelkeep.security.redirects import safe_next


def signed_in(request: HttpRequest) -> User:
    """The signed-in user of a `login_required` view."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    target = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = LoginForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            login.sign_in(request, form.cleaned_data["email"], form.cleaned_data["password"])
            return HttpResponseRedirect(target)
        except login.LoginThrottled as exc:
            error, status = str(exc), 429
        except login.LoginFailed as exc:
            error, status = str(exc), 400
    context = {"form": form, "error": error, "next": target}
    return render(request, "accounts/login.html", context, status=status)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    login.sign_out(request)
    return redirect("login")


def _account(form: SignupForm) -> services.NewAccount:
    data = form.cleaned_data
    return services.NewAccount(
        data["email"], data["password"], data.get("first_name", ""), data.get("last_name", "")
    )


@require_http_methods(["GET", "POST"])
def setup_page(request: HttpRequest, key: str) -> HttpResponse:
    if not services.setup_token_valid(key):
        return render(request, "accounts/link_invalid.html", status=404)
    form = SetupForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.complete_setup(
                key, _account(form), form.cleaned_data["organization"], origin=Origin.of(request)
            )
            return redirect("login")
        except services.AccountError as exc:
            error = str(exc)
    return render(request, "accounts/setup.html", {"form": form, "error": error})


_EXISTING_ACCOUNT = (
    "An account with this e-mail address already exists. To join with it, enter its password."
)


@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    organization = services.organization_for_invite(token)
    if organization is None:
        return render(request, "accounts/link_invalid.html", status=404)
    form = SignupForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            _sign_up_or_join(request, token, form)
            return redirect("login")
        except login.LoginThrottled as exc:
            error, status = str(exc), 429
        except login.LoginFailed:
            error = _EXISTING_ACCOUNT
        except services.AccountError as exc:
            error = str(exc)
    context = {"form": form, "error": error, "token": token, "organization": organization}
    return render(request, "accounts/signup.html", context, status=status)


def _sign_up_or_join(request: HttpRequest, token: str, form: SignupForm) -> None:
    """A new account, or an existing one (password checked, throttled) joining."""
    try:
        services.signup(token, _account(form), origin=Origin.of(request))
    except services.AccountExists:
        login.join(request, token, form.cleaned_data["email"], form.cleaned_data["password"])


def _account_context(request: HttpRequest, user: User) -> dict[str, object]:
    membership = membership_of(user)
    manages_invites = membership is not None and has_perm(membership.role, Perm.INVITES_MANAGE)
    return {
        "membership": membership,
        "manages_invites": manages_invites,
        "pats": PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True),
        "memberships": services.active_memberships(user),
        "password_form": PasswordChangeForm(),
    }


@never_cache  # it shows a new token once
@login_required
@require_http_methods(["GET", "POST"])
def account_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    context = _account_context(request, user)
    action = request.POST.get("action", "")
    origin = Origin.of(request)
    status = 200
    try:
        if action == "reset-token":
            context["new_token"] = tokens.reset_legacy_token(user, actor=user, origin=origin)
        elif action == "create-pat":
            context["new_token"] = tokens.create_pat(user, actor=user, origin=origin).token
        elif action == "change-password":
            status = _change_password(request, user, context)
        elif action == "switch-organization":
            _switch_organization(request, user)
            return redirect("account")
        elif action == "reset-invite" and context["manages_invites"]:
            membership = context["membership"]
            if isinstance(membership, Membership):
                services.reset_invite(membership.organization, actor=user, origin=origin)
                context["message"] = (
                    "The invite link has been replaced; the old one no longer works."
                )
    except (tokens.TokenError, services.AccountError) as exc:
        context["error"] = str(exc)
    return render(request, "accounts/account.html", context, status=status)


def _switch_organization(request: HttpRequest, user: User) -> None:
    chosen = request.POST.get("organization", "")
    if not chosen.isdecimal() or len(chosen) > 18:
        raise services.AccountError("Choose one of your organizations.")
    services.switch_organization(user, int(chosen), origin=Origin.of(request))
    update_session_auth_hash(request, user)  # the session is bound to the membership


def _change_password(request: HttpRequest, user: User, context: dict[str, object]) -> int:
    """Change the password from the account form; the page's status (429 when throttled)."""
    form = PasswordChangeForm(request.POST)
    context["password_form"] = form
    if not form.is_valid():
        return 200
    try:
        login.confirm_password(request, user, form.cleaned_data["old_password"])
    except login.LoginThrottled as exc:
        context["error"] = str(exc)
        return 429
    except login.LoginFailed as exc:
        context["error"] = str(exc)
        return 200
    services.change_password(user, form.cleaned_data["new_password"], origin=Origin.of(request))
    update_session_auth_hash(request, user)
    context["message"] = "Your password has been changed."
    return 200


@login_required
def home_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    membership = membership_of(user)
    sees_audit = membership is not None and has_perm(membership.role, Perm.AUDIT_VIEW)
    context = {"membership": membership, "sees_audit": sees_audit}
    return render(request, "web/home.html", context)
