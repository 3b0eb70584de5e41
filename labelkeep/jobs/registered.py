"""Imports the job kinds of the jobs app itself; apps above it (dataio, storages) import
theirs in their AppConfig.ready(), so every process that loads the apps knows them all."""

from labelkeep.jobs import builtin  # noqa: F401
