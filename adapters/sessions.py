"""Homes of finished runs kept by session id, so a follow-up run can resume its CLI's session."""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.diskquota import usage

if TYPE_CHECKING:
    from collections.abc import Mapping

SESSIONS_ENV = "BATON_AGENT_SESSIONS"
SESSION_DAYS = 14
MAX_SESSION_BYTES = 256 * 1024 * 1024  # a CLI's session files are kilobytes to a few megabytes
log = logging.getLogger(__name__)
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def default_sessions_dir(env: Mapping[str, str]) -> Path:
    """`$BATON_AGENT_SESSIONS`, else `~/.cache/baton/sessions`."""
    if env.get(SESSIONS_ENV):
        return Path(env[SESSIONS_ENV]).expanduser()
    return Path("~/.cache/baton/sessions").expanduser()


class SessionStore:
    """Homes of finished runs by session id, so a follow-up run can resume its CLI's session.

    Each run still gets its own copy: a resumed run starts from the stored home, never shares it.
    """

    def __init__(self, *, root: Path, harness: str) -> None:
        self._dir = root / harness

    def _path(self, session_id: str) -> Path | None:
        return self._dir / session_id if _SESSION_ID.match(session_id) else None

    def restore(self, session_id: str, home: Path) -> bool:
        stored = self._path(session_id)
        if stored is None or not stored.is_dir():
            return False
        shutil.copytree(stored, home, symlinks=True, dirs_exist_ok=True)
        return True

    def save(self, session_id: str, home: Path) -> None:
        """Keep `home` for a resume, unless it is larger than a session needs: a home the agent
        filled up would otherwise be copied out of its run's disk limit."""
        target = self._path(session_id)
        if target is None:
            return
        size = usage([home])
        if size > MAX_SESSION_BYTES:
            log.warning("session %s not kept for resume: its home holds %d MiB (more than %d)",
                        session_id, size >> 20, MAX_SESSION_BYTES >> 20)  # fmt: skip
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        self._prune()
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(home, target, symlinks=True)

    def _prune(self) -> None:
        cutoff = time.time() - SESSION_DAYS * 86400
        for old in self._dir.iterdir():
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
