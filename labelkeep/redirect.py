"""The plain-HTTP listener: it only redirects to HTTPS (DESIGN.md promise 1)."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(https_port: int, allowed_hosts: list[str]) -> type[BaseHTTPRequestHandler]:
    class RedirectHandler(BaseHTTPRequestHandler):
        server_version = "labelkeep"
        sys_version = ""

        def _redirect(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            if host.startswith("[") is False and host.count(":") > 1:
                host = ""
            if host not in allowed_hosts and "*" not in allowed_hosts:
                # Never redirect to a host the application would not serve.
                host = allowed_hosts[0] if allowed_hosts else "localhost"
            path = self.path if self.path.startswith("/") else "/"
            self.send_response(308)
            self.send_header("Location", f"https://{host}:{https_port}{path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _redirect

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"http-redirect {self.address_string()} {format % args}\n")

    return RedirectHandler


def serve(host: str, port: int, https_port: int, allowed_hosts: list[str]) -> None:
    server = ThreadingHTTPServer((host, port), make_handler(https_port, allowed_hosts))
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","))
