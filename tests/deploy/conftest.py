"""A Docker engine for the whole session (started and stopped by pid), and Baton's image built
once from this checkout on a Debian base made here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.docker_engine import Engine, EngineMissing, base_image, engine

ROOT = Path(__file__).parents[2]
IMAGE = "baton:test"
# The base made here has Debian's Python 3.13, on which Aider does not install: the npm CLIs.
AGENTS = "claude-code codex gemini"


def _extra_cas() -> str:
    """The certificate authorities this host adds to Debian's (a network that intercepts TLS
    needs them to reach PyPI and npm from the build); none on most machines."""
    added = Path("/usr/local/share/ca-certificates")
    return "".join(p.read_text() for p in sorted(added.glob("*.crt")))


@pytest.fixture(scope="session")
def docker() -> Iterator[Engine]:
    try:
        with engine() as found:
            yield found
    except EngineMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def base(docker: Engine) -> str:
    try:
        return base_image(docker)
    except EngineMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def baton_image(docker: Engine, base: str) -> Engine:
    docker.build(IMAGE, ROOT, timeout_s=3600, BASE=base, AGENTS=AGENTS, EXTRA_CA_CERTS=_extra_cas())
    return docker
