"""`python -m tests`: install what the suite needs, then lint, type-check and test everything.

Usage: python -m tests [--fast] [pytest args...]
  --fast   only the fast tier (pytest -m "not slow"), for a quick local loop
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Debian packages the suite uses, by the command that shows they are there.
SYSTEM_PACKAGES = {
    "git": "git",
    "bwrap": "bubblewrap",  # the agent sandbox
    "prlimit": "util-linux",  # resource limits inside the sandbox
    "/usr/bin/python3": "python3",  # the sandbox's network relay runs on Debian's python
    "/usr/bin/chromium": "chromium",  # the dashboard's acceptance tests drive a real browser
    "/usr/bin/chromedriver": "chromium-driver",  # ...through its matching driver
    # PostgreSQL (the scale-out mode): the tests start the server when it is not running, and
    # make private clusters of their own with its initdb.
    "pg_ctlcluster": "postgresql",
}

# Only the slow tier's image and Compose tests use these (they build the Dockerfile and run the
# demo, and deploy/compose.yaml, with it); without them those tests are skipped and say why.
IMAGE_PACKAGES = {
    "dockerd": "docker.io",
    "debootstrap": "debootstrap",
    "docker-compose": "docker-compose",  # deploy/compose.yaml's test
}


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def _run(argv: list[str]) -> int:
    print("$ " + " ".join(argv), flush=True)
    return subprocess.run(argv, cwd=ROOT, check=False).returncode


def _missing(packages: dict[str, str]) -> list[str]:
    return [
        pkg for cmd, pkg in packages.items()
        if (not Path(cmd).exists() if cmd.startswith("/") else shutil.which(cmd) is None)
    ]  # fmt: skip


def ensure_image_packages() -> None:
    """docker.io and debootstrap for the image test: installed when root, else a note."""
    missing = _missing(IMAGE_PACKAGES)
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _step(f"installing {' '.join(missing)} from Debian's packages (the image test)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)
        return
    print(
        f"note: {' '.join(missing)} missing and this user cannot install them: the container "
        "image test will be skipped (sudo apt-get install -y " + " ".join(missing) + ")",
        file=sys.stderr,
    )


def ensure_system_packages() -> bool:
    """Install missing Debian packages when root; otherwise say exactly what is missing."""
    missing = _missing(SYSTEM_PACKAGES)
    if not missing:
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _step(f"installing {' '.join(missing)} from Debian's packages")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)
        if done.returncode == 0:
            return True
    print(
        "missing system packages: " + " ".join(missing) + "\n"
        "install them with: sudo apt-get install -y " + " ".join(missing),
        file=sys.stderr,
    )
    return False


NODE_MAJOR = 20  # Gemini CLI's floor; the other agent CLIs and Probot run on it too


def ensure_node() -> bool:
    """The agent CLIs and the Probot peer of the benchmark are npm packages: Node 20+ and npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    version = ""
    if node is not None:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        version = done.stdout.strip()
    major = int(version.lstrip("v").split(".")[0]) if version.lstrip("v")[:1].isdigit() else 0
    if npm is not None and major >= NODE_MAJOR:
        return True
    found = f"node {version}" if node else "no node"
    print(
        f"Node.js {NODE_MAJOR}+ with npm is needed (found {found}, "
        f"{'npm' if npm else 'no npm'}): the agent CLIs are npm packages.\n"
        "Install it from nodejs.org or your distribution (Debian 13: apt-get install nodejs "
        "npm), then run this command again. `python -m tests --fast` needs neither.",
        file=sys.stderr,
    )
    return False


# Most of the suite waits on servers, git and agent CLIs: a process per core, at most four (more
# would only make the end-to-end tests' agents compete for the same cores).
MAX_PROCESSES = 4


def _spread(pytest_args: list[str]) -> list[str]:
    """pytest-xdist's options, unless the caller chose their own (`-n 0` runs in one process)."""
    chosen = ("-n", "--numprocesses", "--dist", "no:xdist", "-pno:xdist")
    if any(a.startswith(chosen) for a in pytest_args):
        return []
    processes = min(os.cpu_count() or 1, MAX_PROCESSES)
    return ["--numprocesses", str(processes), "--dist", "loadgroup"] if processes > 1 else []


def main(argv: list[str]) -> int:
    fast = "--fast" in argv
    pytest_args = [a for a in argv if a != "--fast"]
    if not ensure_system_packages():
        return 2
    if not fast and not ensure_node():
        return 2
    if not fast:
        ensure_image_packages()
    python = sys.executable
    failures: list[str] = []
    _step("ruff (lint and format)")
    if _run([python, "-m", "ruff", "check", "."]) != 0:
        failures.append("ruff check")
    if _run([python, "-m", "ruff", "format", "--check", "."]) != 0:
        failures.append("ruff format (run `ruff format .`)")
    _step("mypy --strict")
    if _run([python, "-m", "mypy"]) != 0:
        failures.append("mypy")
    _step("pytest" + (" (fast tier)" if fast else ""))
    marker = ["-m", "not slow"] if fast else []
    code = _run([python, "-m", "pytest", *marker, *_spread(pytest_args), *pytest_args])
    if code != 0:
        failures.append(f"pytest (exit {code})")
    if failures:
        print("\nFAILED: " + ", ".join(failures), file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
