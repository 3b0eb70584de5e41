"""`labelkeep start | worker | user create | manage` — the command-line entry point."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from labelkeep import datadir


def _django(data_dir: str) -> None:
    os.umask(0o077)  # the database, keys and uploads are the server's alone
    datadir.prepare(Path(data_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
    import django

    django.setup()


def _checked() -> None:
    """Django's system checks (labelkeep.E001 to E003 among them), which `call_command`
    skips: a configuration they refuse stops the process before it serves or works."""
    from django.core import checks

    errors = [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]
    if errors:
        raise SystemExit("\n".join(f"error: {message}" for message in errors))


def _migrate() -> None:
    from django.core.management import call_command

    _checked()
    call_command("migrate", interactive=False, verbosity=0)


def cmd_start(args: argparse.Namespace) -> int:
    hosts = [args.host] if args.host not in ("0.0.0.0", "::") else []  # noqa: S104
    os.environ.setdefault("ALLOWED_HOSTS", ",".join([*hosts, "localhost", "127.0.0.1", "[::1]"]))
    _django(args.data_dir)
    from django.conf import settings
    from django.db import connections

    from labelkeep.accounts import services
    from labelkeep.security.certs import fingerprint
    from labelkeep.server import LabelkeepServer, ServerOptions

    _migrate()
    if bool(args.cert) != bool(args.key):
        print("error: give both --cert and --key, or neither", file=sys.stderr)
        return 2
    if args.cert:
        cert, key = Path(args.cert), Path(args.key)
    else:
        # The printed address says `localhost`, so the certificate must name it too.
        cert_hosts = [*hosts, "localhost", "127.0.0.1", "::1"]
        cert, key, created = datadir.certificate(settings.DATA_DIR, cert_hosts)
        if created:
            print(f"Created a self-signed certificate: {cert}")
    display_host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::") else args.host  # noqa: S104
    base = f"https://{display_host}:{args.port}"
    print(f"Certificate SHA-256 fingerprint: {fingerprint(cert)}")
    print(f"Serving Labelkeep at {base}/ (data directory: {settings.DATA_DIR})")
    if services.needs_setup():
        key_value = services.issue_setup_token()
        print(f"First start: create the owner account at {base}/setup/{key_value}/ (works once)")
    redirector = _start_redirect(args) if args.http_port else None
    # Workers are forked from this process: they must not inherit its database connection.
    connections.close_all()
    # Flush before gunicorn forks: when stdout is not a terminal (systemd, docker), every
    # worker would otherwise inherit these buffered lines and print them again.
    sys.stdout.flush()
    try:
        options = ServerOptions(
            host=args.host,
            port=args.port,
            cert=cert,
            key=key,
            workers=args.workers,
            threads=args.threads,
            job_worker=not args.no_worker,
        )
        LabelkeepServer(options).run()
    finally:
        if redirector is not None:
            redirector.terminate()
    return 0


def _start_redirect(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    from django.conf import settings

    from labelkeep.redirect import bind

    listening = bind(args.host, args.http_port)  # a taken port fails the start here
    command = [
        sys.executable,
        "-m",
        "labelkeep.redirect",
        str(listening.fileno()),
        str(args.port),
        ",".join(settings.ALLOWED_HOSTS),
    ]
    print(f"Redirecting http://{args.host}:{args.http_port}/ to HTTPS")
    child = subprocess.Popen(command, pass_fds=[listening.fileno()])  # noqa: S603
    listening.close()
    return child


def cmd_worker(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    _checked()
    if args.processes > 1:
        children = [
            subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "labelkeep.cli", "worker", "--data-dir", args.data_dir]
            )
            for _ in range(args.processes)
        ]
        try:
            return max(child.wait() for child in children)
        except KeyboardInterrupt:
            for child in children:
                child.terminate()
            return 0
    from django.conf import settings

    from labelkeep.jobs.worker import make_worker

    worker = make_worker(settings.JOB_WORKER_INTERVAL, batch=args.batch)
    worker.configure_signals()
    worker.run()
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    from labelkeep.accounts.cli import create_user

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
    if not password:
        print("error: give the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    return create_user(args.email, password, role=args.role, org=args.org, token=args.token)


def cmd_jobs_check(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    from labelkeep.jobs.cli import check

    return check(args.timeout)


def cmd_manage(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["labelkeep manage", *args.rest])
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labelkeep", description="Labelkeep labeling server")
    sub = root.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        default = os.environ.get("LABELKEEP_DATA_DIR", datadir.DEFAULT)
        p.add_argument("--data-dir", default=default, help="data directory (default: %(default)s)")
        return p

    start = with_data_dir(sub.add_parser("start", help="serve HTTPS (migrates first)"))
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=8443)
    start.add_argument(
        "--http-port", type=int, help="also listen for plain HTTP, redirecting to HTTPS"
    )
    start.add_argument(
        "--cert", help="PEM certificate (default: self-signed in the data directory)"
    )
    start.add_argument("--key", help="PEM private key for --cert")
    start.add_argument("--workers", type=int, default=2, help="web worker processes")
    start.add_argument("--threads", type=int, default=4, help="threads per web worker")
    start.add_argument("--no-worker", action="store_true", help="leave jobs to `labelkeep worker`")
    start.set_defaults(func=cmd_start)

    worker = with_data_dir(sub.add_parser("worker", help="run background job workers"))
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--batch", action="store_true", help="run queued jobs, then exit")
    worker.set_defaults(func=cmd_worker)

    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = with_data_dir(user_sub.add_parser("create", help="create a user"))
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.add_argument("--role", choices=["owner", "admin", "manager", "reviewer", "annotator"])
    create.add_argument("--org", help="organization name (created when it does not exist)")
    create.add_argument(
        "--token", action="store_true", help="print a new API token on the last line"
    )
    create.set_defaults(func=cmd_user_create)

    jobs = sub.add_parser("jobs", help="background jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    check = with_data_dir(
        jobs_sub.add_parser("check", help="queue a self-test job and wait until a worker runs it")
    )
    check.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait (default: %(default)s)"
    )
    check.set_defaults(func=cmd_jobs_check)

    manage = with_data_dir(sub.add_parser("manage", help="run a Django management command"))
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
