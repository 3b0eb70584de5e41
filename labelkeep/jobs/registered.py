"""Imports every module that registers job kinds, so workers know them all."""

from labelkeep.jobs import builtin  # noqa: F401
