from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "labelkeep.web"
    label = "web"

    def ready(self) -> None:
        from labelkeep.web import schema  # noqa: F401  (registers the auth schemes)
