"""Signals the projects app sends; apps above it (tasks) listen."""

from django.dispatch import Signal

# Sent inside the transaction that changed the settings; kwargs: project, fields.
project_settings_changed = Signal()
