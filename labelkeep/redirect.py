"""The plain-HTTP listener: it only redirects to HTTPS (DESIGN.md promise 1).

`labelkeep start --http-port` binds the socket itself (so a taken port stops the start)
and hands it to this module in a child process.
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.http.request import split_domain_port, validate_host

from labelkeep import parent


def concrete_hosts(allowed_hosts: list[str]) -> list[str]:
    """The allowed hosts that are literal names or addresses (not `.domain` or `*` patterns)."""
    return [host for host in allowed_hosts if host and not host.startswith(".") and "*" not in host]


def fallback_host(allowed_hosts: list[str]) -> str:
    """The first allowed host that is a literal name."""
    return next(iter(concrete_hosts(allowed_hosts)), "localhost")


def target_host(header: str, allowed_hosts: list[str]) -> str:
    """The request's host if the application serves it, otherwise the fallback host."""
    domain, _ = split_domain_port(header or "")
    if domain and validate_host(domain, allowed_hosts):
        return domain  # IPv6 literals keep their brackets
    return fallback_host(allowed_hosts)


def make_handler(https_port: int, allowed_hosts: list[str]) -> type[BaseHTTPRequestHandler]:
    class RedirectHandler(BaseHTTPRequestHandler):
        server_version = "labelkeep"
        sys_version = ""

        def _redirect(self) -> None:
            host = target_host(self.headers.get("Host", ""), allowed_hosts)
            path = (
                self.path if self.path.startswith("/") and not self.path.startswith("//") else "/"
            )
            self.send_response(308)
            self.send_header("Location", f"https://{host}:{https_port}{path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _redirect

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"http-redirect {self.address_string()} {format % args}\n")

    return RedirectHandler


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; raises OSError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host.strip("[]"), port), family=family)


def serve(sock: socket.socket, https_port: int, allowed_hosts: list[str]) -> None:
    server = ThreadingHTTPServer(
        sock.getsockname()[:2], make_handler(https_port, allowed_hosts), bind_and_activate=False
    )
    server.socket.close()
    server.socket = sock
    server.serve_forever()


if __name__ == "__main__":
    parent.follow()
    listening = socket.socket(fileno=int(sys.argv[1]))
    serve(listening, int(sys.argv[2]), sys.argv[3].split(","))
