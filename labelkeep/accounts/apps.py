from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "labelkeep.accounts"
    label = "accounts"
