from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labelkeep.projects"
    label = "projects"
