"""Signals the accounts app sends; apps above it (tasks) listen."""

from django.dispatch import Signal

# Sent inside the transaction that removes or deactivates a member; kwargs:
# organization_id, user. Their work in progress there is given back.
member_access_ended = Signal()

# Sent inside the transaction that gives an active member another active role; kwargs:
# organization_id, user, role (the new one). What they may no longer see, they give back.
member_role_changed = Signal()
