"""Labelkeep: a self-hosted, secure-by-default data-labeling server."""

__version__ = "0.1.0"
