"""A third-party client of Licheng: authorization code + PKCE with authlib, then GraphQL.

Run a Licheng server, have a bureau admin approve your client with the
redirect URI ``http://127.0.0.1:8765/callback``, then::

    python examples/third_party_client.py --server http://127.0.0.1:8000 --client-id lc_... \
        [--client-secret ...] [--scope "profile school:read"]

It prints the authorization URL (and opens your browser unless --no-browser),
receives the redirect on a one-shot loopback listener (RFC 8252: native apps
use http://127.0.0.1), checks the state, exchanges the code with the PKCE
verifier, and prints the viewer and, with ``school:read``, a few students.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import warnings
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

with warnings.catch_warnings():
    # authlib 1.9 points at a future "httpx2" integration; this one is the documented client today.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client

VIEWER = "{ viewer { login displayName roles school { code name } person { name } } }"
STUDENTS = "{ people(role: STUDENT, first: 5) { edges { node { id name studentNumber } } pageInfo { hasNextPage endCursor } } }"


def receive_redirect(port: int, timeout: float) -> str:
    """Wait for the browser to come back to http://127.0.0.1:<port>/callback; return the full URL."""
    received: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            received["url"] = f"http://127.0.0.1:{port}{self.path}"
            body = "授權完成，可以關閉此頁。 Done: you may close this page.".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.timeout = timeout
    server.handle_request()  # exactly one request: the redirect
    server.server_close()
    if "url" not in received:
        raise SystemExit("no redirect arrived in time")
    return received["url"]


def graphql(client: OAuth2Client, server: str, query: str) -> dict[str, Any]:
    response = client.post(f"{server}/graphql", json={"query": query})
    response.raise_for_status()
    result = response.json()
    if result.get("errors"):
        codes = [e.get("extensions", {}).get("code") for e in result["errors"]]
        raise SystemExit(f"GraphQL refused: {codes} {result['errors'][0]['message']}")
    return result["data"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=None, help="omit for a public client (PKCE only)")
    parser.add_argument("--scope", default="profile school:read")
    parser.add_argument("--port", type=int, default=8765, help="loopback port of the registered redirect URI")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    redirect_uri = f"http://127.0.0.1:{args.port}/callback"
    client = OAuth2Client(
        client_id=args.client_id, client_secret=args.client_secret, scope=args.scope, redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if args.client_secret else "none",
    )  # fmt: skip
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(f"{args.server}/oauth/authorize", code_verifier=verifier)

    waiter: dict[str, str] = {}
    listener = threading.Thread(target=lambda: waiter.update(url=receive_redirect(args.port, args.timeout)), daemon=True)
    listener.start()
    print(f"AUTHORIZE {url}", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    listener.join(args.timeout + 5)
    if "url" not in waiter:
        print("no redirect arrived", file=sys.stderr)
        return 1

    # authlib checks the state and sends the verifier; an error redirect raises here.
    token = client.fetch_token(
        f"{args.server}/oauth/token", authorization_response=waiter["url"], state=state, code_verifier=verifier
    )
    print(f"TOKEN scope={token.get('scope')!r} expires_in={token.get('expires_in')}", flush=True)
    print("VIEWER " + json.dumps(graphql(client, args.server, VIEWER)["viewer"], ensure_ascii=False), flush=True)
    if "school:read" in str(token.get("scope", "")).split():
        people = graphql(client, args.server, STUDENTS)["people"]
        print("STUDENTS " + json.dumps([e["node"] for e in people["edges"]], ensure_ascii=False), flush=True)
    # Refresh tokens rotate: keep the new one, the old one is used up.
    if token.get("refresh_token"):
        refreshed = client.refresh_token(f"{args.server}/oauth/token", refresh_token=token["refresh_token"])
        print(f"REFRESHED rotated={refreshed['refresh_token'] != token['refresh_token']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
