"""`labelkeep start | worker | user create | manage` — the command-line entry point."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from django.core.exceptions import ImproperlyConfigured

from labelkeep import datadir, parent

EVERY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 (what --host may say, not a default)
WORKER_GRACE = 30.0


class UsageError(Exception):
    """A refused command line or configuration: one line on stderr, exit status 2."""


@contextmanager
def _refused() -> Iterator[None]:
    """Turn what a bad data directory or database setting raises while a command gets
    ready into a UsageError: one `error:` line and status 2 (docs/configuration.md), not a
    traceback. Only around the preparation: errors once serving or working are not ours to
    reword."""
    from django.db import DatabaseError

    try:
        yield
    except (datadir.DataDirError, ImproperlyConfigured) as exc:
        raise UsageError(str(exc)) from None
    except FileExistsError as exc:  # mkdir of the data directory: a file is in the way
        raise UsageError(f"{exc.filename}: exists and is not a directory") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise UsageError(f"{where}{exc.strerror or exc}") from None
    except DatabaseError as exc:
        raise UsageError(_database_error(exc)) from None


def _database_error(exc: Exception) -> str:
    """The database's complaint on one line, with what to check."""
    from django.conf import settings

    said = " ".join(str(exc).split()) or type(exc).__name__
    if str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite"):
        return (
            f"cannot use the database {settings.DATABASES['default']['NAME']}: {said} "
            "(is the data directory writable by this user?)"
        )
    return f"cannot use the database given by DATABASE_URL: {said}"


def _django(data_dir: str) -> None:
    os.umask(0o077)  # the database, keys and uploads are the server's alone
    with _refused():
        datadir.prepare(Path(data_dir))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
        import django

        django.setup()


def _checked() -> None:
    """Django's system checks (labelkeep.E001 to E004 among them), which `call_command`
    skips: a configuration they refuse stops the process before it serves or works."""
    from django.core import checks

    with _refused():
        found = checks.run_checks()
    errors = [m for m in found if m.is_serious() and not m.is_silenced()]
    if errors:
        raise SystemExit("\n".join(f"error: {message}" for message in errors))


def _migrate() -> None:
    from django.core.management import call_command

    _checked()
    with _refused():
        call_command("migrate", interactive=False, verbosity=0)


def _require_migrated() -> None:
    """Workers and `jobs check` do not migrate (the server does, once, as it starts): on a
    database that was never migrated, or is behind this version, they say so instead of
    failing on a missing table."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    with _refused():
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise UsageError(
            f"the database has {len(pending)} migration(s) not applied yet (a data directory "
            "never started?): run `labelkeep start` once, or `labelkeep manage migrate`, first"
        )


def cmd_start(args: argparse.Namespace) -> int:
    given = _given_pair(args.cert, args.key)
    bound = [] if args.host in EVERY_ADDRESS else [_url_host(args.host)]
    os.environ.setdefault("ALLOWED_HOSTS", ",".join([*bound, "localhost", "127.0.0.1", "[::1]"]))
    _django(args.data_dir)
    from django.conf import settings
    from django.db import connections

    from labelkeep.accounts import services
    from labelkeep.security.certs import fingerprint
    from labelkeep.server import LabelkeepServer, ServerOptions

    _migrate()
    # Bound before anything is written or printed: a start that cannot serve (the port taken,
    # an address not this machine's) must leave a server already running on this data
    # directory alone: its certificate and its unused setup link.
    listening = listen(args.host, args.port)
    plain = listen(args.host, args.http_port) if args.http_port else None
    host = display_host(args.host, settings.ALLOWED_HOSTS)
    if given:
        cert, key = given
    else:
        names = certificate_names(host, [*bound, *settings.ALLOWED_HOSTS])
        cert, key, news = _certificate(settings.DATA_DIR, names)
        if news:
            print(news)
    base = f"https://{host}:{args.port}"
    print(f"Certificate SHA-256 fingerprint: {fingerprint(cert)}")
    print(f"Serving Labelkeep at {base}/ (data directory: {settings.DATA_DIR})")
    if services.needs_setup():
        key_value = services.issue_setup_token()
        print(f"First start: create the owner account at {base}/setup/{key_value}/ (works once)")
    redirector = _start_redirect(args, plain) if plain is not None else None
    # Workers are forked from this process: they must not inherit its database connection.
    connections.close_all()
    # Flush before gunicorn forks: when stdout is not a terminal (systemd, docker), every
    # worker would otherwise inherit these buffered lines and print them again.
    sys.stdout.flush()
    try:
        options = ServerOptions(
            host=args.host,
            port=args.port,
            listener_fd=listening.detach(),  # gunicorn owns and closes it from here
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


def _given_pair(cert_option: str | None, key_option: str | None) -> tuple[Path, Path] | None:
    """--cert and --key, checked before anything is done with them."""
    if bool(cert_option) != bool(key_option):
        raise UsageError("give both --cert and --key, or neither")
    if not cert_option or not key_option:
        return None
    cert, key = Path(cert_option), Path(key_option)
    for option, path in (("--cert", cert), ("--key", key)):
        if not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
        try:
            path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{option} {path}: cannot be read ({exc.strerror})") from None
    try:
        x509.load_pem_x509_certificate(cert.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--cert {cert}: not a PEM certificate ({exc})") from None
    try:
        # An empty password: an encrypted key is refused here, not prompted for per worker.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password="")
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"--key {key}: not the unencrypted PEM private key of --cert {cert} ({exc})"
        ) from None
    return cert, key


def _certificate(data_dir: Path, names: list[str]) -> tuple[Path, Path, str]:
    try:
        return datadir.certificate(data_dir, names)
    except datadir.DataDirError as exc:
        raise UsageError(str(exc)) from None


def _url_host(host: str) -> str:
    """`host` as a URL and ALLOWED_HOSTS write it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def display_host(bound: str, allowed_hosts: list[str]) -> str:
    """The host the printed addresses name: `localhost` for the loopback or every address,
    else the bound address; when the server does not answer for that name (ALLOWED_HOSTS),
    the first concrete name it does answer for."""
    from django.http.request import validate_host

    from labelkeep.redirect import concrete_hosts

    natural = "localhost" if bound in ("127.0.0.1", *EVERY_ADDRESS) else _url_host(bound)
    if validate_host(natural.lower(), allowed_hosts):
        return natural
    return next(iter(concrete_hosts(allowed_hosts)), natural)


def certificate_names(host: str, wanted: list[str]) -> list[str]:
    """What the self-signed certificate must name: the printed host first, then the concrete
    ALLOWED_HOSTS names and the bound address, and the loopback names; no duplicates."""
    from labelkeep.redirect import concrete_hosts

    names: dict[str, str] = {}
    for name in [host, *concrete_hosts(wanted), "localhost", "127.0.0.1", "::1"]:
        bare = name.strip("[]")
        try:
            names.setdefault(str(ipaddress.ip_address(bare)), bare)
        except ValueError:
            names.setdefault(bare.lower(), bare.lower())
    return list(names.values())


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port, as gunicorn would bind it (SO_REUSEADDR;
    `::` takes IPv4 too); a UsageError naming the address when that cannot be done."""
    bare = host.strip("[]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(socket.SOMAXCONN)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {_url_host(bare)}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def _start_redirect(args: argparse.Namespace, listening: socket.socket) -> subprocess.Popen[bytes]:
    from django.conf import settings

    command = [
        sys.executable,
        "-m",
        "labelkeep.redirect",
        str(listening.fileno()),
        str(args.port),
        ",".join(settings.ALLOWED_HOSTS),
    ]
    print(f"Redirecting http://{_url_host(args.host)}:{args.http_port}/ to HTTPS")
    child = subprocess.Popen(command, pass_fds=[listening.fileno()], env=parent.child_env())  # noqa: S603
    listening.close()
    return child


def cmd_worker(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    _checked()
    if args.processes > 1:
        _require_migrated()  # said once here, not by each child
        command = [sys.executable, "-m", "labelkeep.cli", "worker", "--data-dir", args.data_dir]
        if args.batch:
            command.append("--batch")
        return supervise([command] * args.processes, grace=args.grace)
    parent.follow()  # a child whose parent is gone stops before anything else
    _require_migrated()
    from django.conf import settings

    from labelkeep.jobs.worker import make_worker

    worker = make_worker(settings.JOB_WORKER_INTERVAL, batch=args.batch)
    worker.configure_signals()
    worker.run()
    # Stopped by a second signal in the middle of a job (which was recorded failed): not
    # a clean exit, whatever the queue library made of it.
    return 1 if worker.forced else 0


def supervise(commands: list[list[str]], *, grace: float) -> int:
    """Run each command as a child process until all have exited (status 0 if all did 0).

    SIGTERM or SIGINT is passed on to the children (a worker finishes its job on the first,
    abandons it on the second); those still running `grace` seconds after the first are
    killed. The children have a process group of their own, so a Ctrl-C at the terminal
    reaches them once, through here, and not also directly."""
    children: list[subprocess.Popen[bytes]] = []
    deadline: float | None = None  # set by the first signal

    def forward(signum: int, frame: object) -> None:
        nonlocal deadline
        if deadline is None:
            deadline = time.monotonic() + grace
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {
        number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        for command in commands:
            if deadline is not None:
                break  # stopped while starting: start no more
            started = subprocess.Popen(command, process_group=0, env=parent.child_env())  # noqa: S603
            children.append(started)
        while any(child.poll() is None for child in children):
            if deadline is not None and time.monotonic() > deadline:
                for child in children:
                    if child.poll() is None:
                        child.kill()
            time.sleep(0.1)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0 if all(child.returncode == 0 for child in children) else 1


def cmd_user_create(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
    if not password:
        raise UsageError("give the password on standard input with --password-stdin")
    # A fresh data directory is prepared and migrated as `start` would, so that scripted
    # installs can create the owner before the first start.
    _django(args.data_dir)
    _migrate()
    from labelkeep.accounts.cli import create_user

    return create_user(args.email, password, role=args.role, org=args.org, token=args.token)


def cmd_jobs_check(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    _require_migrated()
    from labelkeep.jobs.cli import check

    return check(args.timeout)


def cmd_manage(args: argparse.Namespace) -> int:
    _django(args.data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["labelkeep manage", *args.rest])
    return 0


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (0 workers would serve nobody)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    value = positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


def not_negative(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labelkeep", description="Labelkeep labeling server")
    sub = root.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        default = os.environ.get("LABELKEEP_DATA_DIR", datadir.DEFAULT)
        p.add_argument("--data-dir", default=default, help="data directory (default: %(default)s)")
        return p

    start = with_data_dir(sub.add_parser("start", help="serve HTTPS (migrates first)"))
    start.add_argument(
        "--host", default="127.0.0.1", help="address to serve HTTPS on (default: %(default)s)"
    )
    start.add_argument(
        "--port", type=port_number, default=8443, help="HTTPS port (default: %(default)s)"
    )
    start.add_argument(
        "--http-port",
        type=port_number,
        help="also listen for plain HTTP on this port, redirecting to HTTPS (default: off)",
    )
    start.add_argument(
        "--cert", help="PEM certificate (default: self-signed in the data directory)"
    )
    start.add_argument("--key", help="PEM private key for --cert")
    start.add_argument(
        "--workers",
        type=positive,
        default=2,
        help="web worker processes (default: %(default)s)",
    )
    start.add_argument(
        "--threads",
        type=positive,
        default=4,
        help="threads per web worker (default: %(default)s)",
    )
    start.add_argument("--no-worker", action="store_true", help="leave jobs to `labelkeep worker`")
    start.set_defaults(func=cmd_start)

    worker = with_data_dir(sub.add_parser("worker", help="run background job workers"))
    worker.add_argument(
        "--processes",
        type=positive,
        default=1,
        help="worker processes; above 1, this process starts and stops them (default: %(default)s)",
    )
    worker.add_argument(
        "--grace",
        type=not_negative,
        default=WORKER_GRACE,
        help="with --processes: seconds the workers get to finish their jobs once stopped "
        "(SIGTERM, Ctrl-C) before they are killed (default: %(default)s)",
    )
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
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
