"""Imports every module that registers job kinds, so workers know them all.

Modules of higher layers (dataio, storages) are named as strings, as INSTALLED_APPS names
apps: the jobs layer loads them at app start without depending on them.
"""

from importlib import import_module

from labelkeep.jobs import builtin  # noqa: F401

JOB_MODULES = ("labelkeep.dataio.exporting.jobs", "labelkeep.dataio.jobs")

for _module in JOB_MODULES:
    import_module(_module)
