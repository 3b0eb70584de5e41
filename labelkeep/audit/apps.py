from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "labelkeep.audit"
    label = "audit"
