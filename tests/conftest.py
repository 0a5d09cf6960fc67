"""Shared fixtures: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sandbox_ready() -> None:
    """Bubblewrap runs here with Baton's profile. As root the setup installs it when missing and
    fails when it still cannot run; otherwise the test is skipped with what is missing."""
    import os  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    from adapters import sandbox  # noqa: PLC0415

    root = os.geteuid() == 0
    if root and shutil.which("bwrap") is None and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "bubblewrap"], check=False, env=env)
        sandbox._status = None
    status = await sandbox.sandbox_status()
    if status.ok:
        return
    if root:
        pytest.fail(f"the sandbox is needed and could not be set up: {status.reason}")
    pytest.skip(f"bubblewrap cannot run here and this user cannot install it: {status.reason}")
