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


# Tests that must not run beside each other when the suite is spread over processes
# (`python -m tests` runs pytest-xdist with --dist loadgroup): each group stays on one process.
_SERIAL_GROUPS = {
    # One Docker engine at a time on the machine's image cache.
    "tests/deploy/": "docker",
    # Clusters of servers and workers whose recovery bounds are measured in seconds.
    "tests/e2e/test_crash_safety.py": "cluster",
    "tests/e2e/test_scale_out.py": "cluster",
    "tests/bench/test_scale_out.py": "cluster",
}


# Before xdist's own hook, which reads the marks into the tests' ids.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        for prefix, group in _SERIAL_GROUPS.items():
            if where.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
