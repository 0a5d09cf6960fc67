"""What `baton register` leaves in the working directory: `.env` with the App's settings and the
private key in a file of its own, both readable by their owner only."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.register.manifest import default_api
from config.dotenv import ENV_FILE, render
from config.settings import SettingsError

if TYPE_CHECKING:
    from pathlib import Path

    from bot.gh.manifest import RegisteredApp
    from bot.register.manifest import GitHubUrls

PRIVATE = 0o600


@dataclass(frozen=True, slots=True)
class Written:
    env_file: Path
    key_file: Path


def key_file_name(slug: str) -> str:
    """As GitHub names the key it lets you download, without the date."""
    return f"{slug}.private-key.pem"


def refuse_to_overwrite(folder: Path, *, force: bool) -> None:
    """Stop before anything starts when `.env` is there and `--force` was not given."""
    env_file = folder / ENV_FILE
    if env_file.exists() and not force:
        raise SettingsError(
            f"{env_file} exists: it may hold another App's settings; move it away, or pass "
            "--force to replace it"
        )


def _write_private(path: Path, text: str, *, force: bool) -> None:
    """Write `text` readable by its owner only; the file appears whole or not at all."""
    if path.exists() and not force:
        raise SettingsError(f"{path} exists; pass --force to replace it")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    # 0600 from the first byte: the mode is set when the file is created, not after.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        partial.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise


def write_settings(
    folder: Path, app: RegisteredApp, *, urls: GitHubUrls, public_url: str, force: bool
) -> Written:
    """`.env` and the key file, for `baton serve` run in `folder` (the key's path is relative,
    so the folder can move)."""
    key_file = folder / key_file_name(app.slug)
    values = [
        ("BATON_APP_ID", str(app.id)),
        ("BATON_APP_SLUG", app.slug),
        ("BATON_PRIVATE_KEY_PATH", key_file.name),
        ("BATON_WEBHOOK_SECRET", app.webhook_secret.get_secret_value()),
        ("BATON_CLIENT_ID", app.client_id),
        ("BATON_CLIENT_SECRET", app.client_secret.get_secret_value()),
        ("BATON_PUBLIC_URL", public_url.rstrip("/")),
    ]
    if not default_api(urls):
        values.append(("BATON_GITHUB_URL", urls.api))
    header = (
        f"Written by `baton register` on {time.strftime('%Y-%m-%d')} for the GitHub App "
        f"{app.name!r} ({app.html_url}).\n"
        "Private: readable by its owner only, like the key file it names. `baton serve` reads "
        "it from this\nfolder; variables set in the environment win over it."
    )
    _write_private(key_file, app.pem.get_secret_value(), force=force)
    env_file = folder / ENV_FILE
    _write_private(env_file, render(values, header=header), force=force)
    return Written(env_file=env_file, key_file=key_file)
