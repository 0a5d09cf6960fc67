"""The floor for webhook intake: a Starlette app that only checks the HMAC and answers 202.

Served by uvicorn with the options `baton serve` uses, so the two differ only in what Baton
does per delivery (Baton's one-write protocol, bot/serving.py, would change nothing for this
bodiless answer: uvicorn sends it in one write already). The secret comes from
`BENCH_WEBHOOK_SECRET` (never argv).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET_ENV = "BENCH_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret


def create_app(secret: bytes) -> Starlette:
    async def webhooks(request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), header.encode()):
            return Response(status_code=401)
        return Response(status_code=202)

    return Starlette(routes=[Route("/webhooks", webhooks, methods=["POST"])])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ[SECRET_ENV].encode())
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
