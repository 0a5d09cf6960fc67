"""`baton register`: register Baton's GitHub App through GitHub's manifest flow and leave its
settings in `./.env`, as Probot's "Register GitHub App" does."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.register.files import refuse_to_overwrite
from bot.register.manifest import (
    MANIFEST_FILE,
    build_manifest,
    github_urls,
    load_app_yml,
    public_url_problem,
    shipped_manifest,
)
from config.settings import SettingsError

if TYPE_CHECKING:
    import argparse

    import httpx

GITHUB = "https://github.com"


async def register(
    *,
    org: str | None,
    github_url: str,
    public_url: str,
    name: str | None,
    force: bool,
    folder: Path,
    port: int = 0,
    out: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """The whole flow; 0 once `.env` is written. SettingsError for what is wrong before it
    starts (nothing is registered then)."""
    # The local server and GitHub's client are loaded for this command only.
    from bot.register.flow import (  # noqa: PLC0415
        CALLBACK_PATH,
        Registration,
        bind,
        serve_until_done,
    )

    if not public_url:
        raise SettingsError(
            "--public-url is needed (or BATON_PUBLIC_URL): the https address GitHub will post "
            "webhooks to (PUBLIC_URL/webhooks), such as https://baton.example.com"
        )
    if (problem := public_url_problem(public_url)) is not None:
        raise SettingsError(problem)
    refuse_to_overwrite(folder, force=force)
    urls = github_urls(github_url)
    # A manifest of one's own (./app.yml) wins over the one Baton ships, as with Probot.
    source = folder / MANIFEST_FILE
    if not source.is_file():
        source = shipped_manifest()
    app_yml = load_app_yml(source)
    try:
        sock = bind("127.0.0.1", port)
    except OSError as exc:
        raise SettingsError(f"--port {port}: cannot listen on 127.0.0.1: {exc.strerror}") from exc
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    reg = Registration(
        urls=urls, org=org, folder=folder, public_url=public_url, force=force, transport=transport
    )
    reg.manifest = build_manifest(
        app_yml, public_url=public_url, redirect_url=local + CALLBACK_PATH, name=name
    )
    where = f"the organization {org}" if org else "your account"
    out.write(
        f"Registering a GitHub App on {where} at {urls.web} from {source}.\n"
        f"Open {local}/ in a browser (this machine only; over ssh, forward the port) and click "
        "the button: GitHub shows what the App asks for, then sends you back here.\n"
        "Waiting (Ctrl-C to stop)...\n"
    )
    out.flush()
    await serve_until_done(reg, sock)
    if reg.failure:
        raise SettingsError(reg.failure)
    if reg.app is None or reg.written is None:
        return 1
    app, written = reg.app, reg.written
    out.write(
        f"\nRegistered the GitHub App {app.name!r} (id {app.id}, slug {app.slug}).\n"
        f"Wrote {written.env_file} and {written.key_file} (both mode 0600).\n"
        f"Install it on {where}: {urls.install(app.slug)}\n"
        f"Then, in {folder}: baton serve --host 0.0.0.0 --port 8000   (and `baton doctor` to "
        "check everything)\n"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    env = os.environ
    github_url = args.github_url or env.get("BATON_GITHUB_URL") or GITHUB
    public_url = args.public_url or env.get("BATON_PUBLIC_URL", "")
    return asyncio.run(
        register(
            org=args.org,
            github_url=github_url,
            public_url=public_url,
            name=args.name,
            force=args.force,
            folder=Path.cwd(),
            port=args.port,
            out=sys.stdout,
        )
    )


def add_register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `baton register` on the `baton` parser's subcommands."""
    parser = sub.add_parser(
        "register",
        help="register Baton's GitHub App (manifest flow) and write its settings to ./.env",
        description="Serve a page on 127.0.0.1 whose button registers a GitHub App from "
        "app.yml (./app.yml if there is one) on GitHub's new-app page; GitHub sends the browser "
        "back with a code, which is exchanged for the App's id, private key, webhook secret and "
        "OAuth client. They are written to ./.env and a key file (mode 0600), and the App's "
        "install URL is printed.",
    )
    parser.add_argument("--org", help="register the App for this organization (default: you)")
    parser.add_argument(
        "--github-url",
        metavar="URL",
        help=f"GitHub's address; GitHub Enterprise Server: https://HOST (default: {GITHUB})",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="where GitHub reaches this server (webhooks go to URL/webhooks; default: "
        "BATON_PUBLIC_URL)",
    )
    parser.add_argument("--name", help="the App's name (default: app.yml's; unique on GitHub)")
    parser.add_argument("--force", action="store_true", help="replace an existing ./.env")
    parser.add_argument(
        "--port", type=int, default=0, help="port of the local page (default: a free one)"
    )
    parser.set_defaults(func=_run)
