"""Authentication overhead through the real server: `python -m bench.identity`.

Measures `GET api/current-user/whoami` with a legacy key and with a personal access token
(refresh once, then Bearer), 8 concurrent keep-alive clients.
"""

from __future__ import annotations

import argparse

import httpx

from bench.common import create_user, hammer, record, running_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        legacy = {"Authorization": f"Token {key}"}
        with httpx.Client(base_url=server.base_url, verify=str(server.cert)) as setup:
            pat = setup.post("/api/token/", headers=legacy).raise_for_status().json()["token"]
            access = setup.post("/api/token/refresh/", json={"refresh": pat}).json()["access"]
        bearer = {"Authorization": f"Bearer {access}"}

        def whoami(headers: dict[str, str]):  # type: ignore[no-untyped-def]
            def call(client: httpx.Client) -> None:
                client.get("/api/current-user/whoami", headers=headers).raise_for_status()

            return call

        legacy_timing = hammer(whoami(legacy), server, args.requests, args.clients)
        bearer_timing = hammer(whoami(bearer), server, args.requests, args.clients)
    record(
        "Identity: whoami through HTTPS",
        [
            f"legacy token, {args.clients} clients: {legacy_timing.summary()}",
            f"personal access token (Bearer), {args.clients} clients: {bearer_timing.summary()}",
        ],
    )


if __name__ == "__main__":
    main()
