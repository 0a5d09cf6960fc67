"""A Docker engine for the image tests, started and stopped by them (by process id), and a base
image made from Debian's packages: no image registry is needed.

The daemon gets its own socket and run folder, so it never touches another engine on the
machine; its data (images, build cache) is kept between runs under the user's cache, so a second
run rebuilds only what changed. Where no engine can run, the reason is exact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_IMAGE = "local/debian:trixie"
SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
DATA_ROOT = Path.home() / ".cache" / "baton" / "docker"


class EngineMissing(Exception):
    """No engine can run here; the message says exactly what is missing."""


@dataclass(frozen=True, slots=True)
class Engine:
    docker: str  # the client
    host: str  # DOCKER_HOST

    def run(self, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": self.host}
        return subprocess.run(
            [self.docker, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def build(self, tag: str, context: Path, *, timeout_s: float, **build_args: str) -> None:
        """`docker build` on the host's network; a failed build fails the test with its output."""
        args = [
            arg for name, value in build_args.items() for arg in ("--build-arg", f"{name}={value}")
        ]
        built = self.run(
            "build", "--network", "host", "--tag", tag, *args, str(context), timeout_s=timeout_s
        )
        assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, timeout_s=60).returncode == 0


def _install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, check=False)


def _programs() -> tuple[str, str]:
    """The daemon and a client, installing Debian's docker.io when root and missing."""
    root = os.geteuid() == 0
    if shutil.which("dockerd") is None and root and shutil.which("apt-get"):
        _install(["docker.io"])
    dockerd, docker = shutil.which("dockerd"), shutil.which("docker")
    if dockerd is None or docker is None:
        raise EngineMissing(
            "no Docker engine: dockerd is not installed"
            + ("" if root else " and this user cannot install it (apt-get install docker.io)")
        )
    if not root:
        raise EngineMissing("dockerd needs root to run, and the tests do not run as root")
    return dockerd, docker


# dockerd gives its containerd a fixed time to start; on a loaded machine that can pass, and
# dockerd exits saying so. Another try then starts it.
START_ATTEMPTS = 3


@contextlib.contextmanager
def engine() -> Iterator[Engine]:
    """A daemon of our own for the block; stopped by its pid afterwards."""
    dockerd, docker = _programs()
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, START_ATTEMPTS + 1):
        with tempfile.TemporaryDirectory(prefix="baton-dockerd-") as run_dir:
            daemon, found = _start(dockerd, docker, Path(run_dir))
            try:
                why = _wait_ready(daemon, found, Path(run_dir) / "dockerd.log")
                if why is None:
                    yield found
                    return
                if attempt == START_ATTEMPTS or "timeout waiting for containerd" not in why:
                    raise EngineMissing("dockerd did not start: " + why)
            finally:
                _stop(daemon, Path(run_dir))


def _start(dockerd: str, docker: str, run_dir: Path) -> tuple[subprocess.Popen[bytes], Engine]:
    sock = run_dir / "docker.sock"
    with (run_dir / "dockerd.log").open("wb") as out:
        # No bridge and no iptables rules: the host's network is left alone; builds and
        # containers use the host's network or none.
        daemon = subprocess.Popen(
            [
                dockerd,
                f"--host=unix://{sock}",
                f"--data-root={DATA_ROOT}",
                f"--exec-root={run_dir}/exec",
                f"--pidfile={run_dir}/docker.pid",
                "--iptables=false",
                "--bridge=none",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return daemon, Engine(docker=docker, host=f"unix://{sock}")


def _wait_ready(daemon: subprocess.Popen[bytes], found: Engine, log: Path) -> str | None:
    """None once the engine answers, else the end of its log."""
    deadline = time.monotonic() + 90
    while found.run("info", timeout_s=30).returncode != 0:
        if daemon.poll() is not None or time.monotonic() > deadline:
            return log.read_text(errors="replace")[-2000:]
        time.sleep(0.5)
    return None


def _stop(daemon: subprocess.Popen[bytes], run_dir: Path) -> None:
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    _unmount_under(run_dir)


def _unmount_under(folder: Path) -> None:
    """dockerd leaves its network namespace mounted in its run folder: unmount what is there,
    deepest first, so the folder can be removed."""
    mounted = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(f"{folder}/")
    ]
    for point in sorted(mounted, key=len, reverse=True):
        subprocess.run(["umount", point], check=False, capture_output=True)


def base_image(found: Engine) -> str:
    """`local/debian:trixie`, made once with debootstrap from Debian's mirror and imported."""
    if found.has_image(BASE_IMAGE):
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        _install(["debootstrap"])
    if shutil.which("debootstrap") is None:
        raise EngineMissing("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="baton-rootfs-") as rootfs:
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, rootfs, MIRROR],
            capture_output=True,
            timeout=1200,
            check=False,
        )
        if made.returncode != 0:
            raise EngineMissing(f"debootstrap {SUITE} failed: {made.stdout[-2000:]!r}")
        env = {**os.environ, "DOCKER_HOST": found.host}
        with subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                [found.docker, "import", "-", BASE_IMAGE],
                stdin=tar.stdout,
                env=env,
                capture_output=True,
                timeout=600,
                check=False,
            )
    if imported.returncode != 0:
        raise EngineMissing(f"docker import failed: {imported.stderr[-2000:]!r}")
    return BASE_IMAGE
