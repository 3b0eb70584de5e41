"""HTML forms for the sign-in, sign-up, setup and account pages."""

from __future__ import annotations

from django import forms


def _password(autocomplete: str, label: str = "Password") -> forms.CharField:
    return forms.CharField(
        max_length=4096,
        strip=False,
        label=label,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class LoginForm(forms.Form):
    email = forms.CharField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = _password("current-password")


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username"})
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = _password("new-password")


class SetupForm(SignupForm):
    organization = forms.CharField(max_length=200, label="Organization name")


class PasswordChangeForm(forms.Form):
    old_password = _password("current-password", "Current password")
    new_password = _password("new-password", "New password")
