from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "labelkeep.accounts"
    label = "accounts"

    def ready(self) -> None:
        from labelkeep.accounts import schema  # noqa: F401  (registers the auth schemes)
