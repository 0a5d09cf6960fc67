"""`python -m adapters.modelserver [--port P] [--scenario NAME]`: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from adapters.modelserver.scenarios import builtin
from adapters.modelserver.server import ModelServer, serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.modelserver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scenario", default="edit", help="edit, hang, loop, http_error-<status>")
    args = parser.parse_args(argv)

    def ready(server: ModelServer) -> None:
        sys.stdout.write(f"scripted model server on {server.url}\n")
        sys.stdout.flush()

    serve_forever(default=builtin(args.scenario), port=args.port, on_ready=ready)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
