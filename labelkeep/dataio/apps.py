from django.apps import AppConfig


class DataioConfig(AppConfig):
    name = "labelkeep.dataio"
    label = "dataio"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_delete

        # Job kinds register on import; every process (web, worker, CLI) loads apps.
        from labelkeep.dataio import jobs  # noqa: F401
        from labelkeep.dataio.exporting import jobs as export_jobs  # noqa: F401
        from labelkeep.dataio.models import FileUpload
        from labelkeep.dataio.uploads import forget_file
        from labelkeep.security.http import check_allowlist
        from labelkeep.security.proxy import check_trusted_proxies

        # Imports fetch URLs through the guarded client: its allowlist is checked at start.
        checks.register(check_allowlist)
        # And the proxy middleware's addresses (`security` is not an app: no ready() of its own).
        checks.register(check_trusted_proxies)

        post_delete.connect(forget_file, sender=FileUpload, dispatch_uid="dataio.forget_file")
