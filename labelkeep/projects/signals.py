"""Signals the projects app sends; apps above it (tasks) listen."""

from django.dispatch import Signal

# Sent inside the transaction that changed the settings; kwargs: project, fields (the
# names whose value changed).
project_settings_changed = Signal()

# Sent inside the transaction that takes a user out of a project; kwargs: project, user.
project_member_removed = Signal()

# Sent inside the transaction that deletes a project, before the project's row goes, so
# that apps above it delete their many rows set-based; kwargs: project.
project_deleting = Signal()
