from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "labelkeep.web"
    label = "web"
