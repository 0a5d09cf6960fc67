"""`baton localhub`: run the GitHub emulator alone, until Ctrl-C.

The webhook secret is read from the environment (`BATON_WEBHOOK_SECRET`), never from argv.
Accounts, apps and installations are created through the admin API it prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.localhub.server import LocalHubServer

SECRET_ENV = "BATON_WEBHOOK_SECRET"  # noqa: S105 (the name of the variable, not a secret)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--webhook-url", required=True, help="where registered apps' webhooks are delivered"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where repositories live (default: a temp dir)"
    )


def run(
    args: argparse.Namespace,
    *,
    environ: dict[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    env = os.environ if environ is None else environ
    out = out or sys.stdout
    secret = env.get(SECRET_ENV, "")
    if not secret:
        out.write(f"localhub: set {SECRET_ENV} (webhooks are signed with it)\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="localhub-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        server = LocalHubServer(
            data_dir=data_dir, webhook_secret=secret.encode(), host=args.host, port=args.port
        )
        out.write(
            f"localhub listening on {server.url}\n"
            f"  REST API:  {server.api_url}\n"
            f"  git:       {server.url}/OWNER/REPO.git\n"
            f"  admin:     {server.url}/_localhub/  (unauthenticated; loopback only)\n"
            f"  webhooks:  {args.webhook_url}  (register an app: POST /_localhub/apps)\n"
            f"  data:      {data_dir}\n"
            "Press Ctrl-C to stop.\n"
        )
        out.flush()
        server.hub.default_webhook_url = args.webhook_url
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.write("localhub stopped\n")
    return 0
