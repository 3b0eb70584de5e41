"""HTML forms for the sign-in, sign-up, setup and account pages."""

from __future__ import annotations

from django import forms


class LoginForm(forms.Form):
    email = forms.CharField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)


class SetupForm(SignupForm):
    organization = forms.CharField(max_length=200, label="Organization name")


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        strip=False, widget=forms.PasswordInput, label="Current password"
    )
    new_password = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput, label="New password"
    )
