from django.apps import AppConfig


class DataioConfig(AppConfig):
    name = "labelkeep.dataio"
    label = "dataio"
