"""What a run is told when it hits a limit, the settings behind the limits, what is enforced."""

from __future__ import annotations

import pytest

from adapters.base import GIB, Resources
from adapters.runlimits import LimitReached, enforcement, size_text
from config.settings import SettingsError, load_settings

pytestmark = pytest.mark.anyio


def test_sizes_read_as_the_settings_are_written() -> None:
    assert size_text(4 * GIB) == "4 GiB"
    assert size_text(512 * 1024**2) == "512 MiB"
    assert size_text(3 * GIB // 2) == "1.5 GiB"
    assert size_text(100) == "100 bytes"


def test_the_reason_names_the_limit_and_its_size() -> None:
    assert str(LimitReached("process", "512")) == "the run hit its process limit (512)"
    assert str(LimitReached("memory", "4 GiB")) == "the run hit its memory limit (4 GiB)"
    assert LimitReached("disk", "2 GiB").limit == "disk"


def test_settings_default_to_the_run_resources() -> None:
    settings = load_settings({})
    default = Resources()
    assert settings.run_max_processes == default.processes
    assert int(settings.run_max_memory) == default.memory_bytes
    assert int(settings.run_max_disk) == default.disk_bytes


def test_settings_take_sizes_with_units() -> None:
    settings = load_settings(
        {
            "BATON_RUN_MAX_PROCESSES": "512",
            "BATON_RUN_MAX_MEMORY": "4GiB",
            "BATON_RUN_MAX_DISK": "512MiB",
        }
    )
    assert settings.run_max_processes == 512
    assert int(settings.run_max_memory) == 4 * GIB
    assert int(settings.run_max_disk) == 512 * 1024**2
    with pytest.raises(SettingsError, match="BATON_RUN_MAX_MEMORY"):
        load_settings({"BATON_RUN_MAX_MEMORY": "1MiB"})
    with pytest.raises(SettingsError, match="BATON_RUN_MAX_PROCESSES"):
        load_settings({"BATON_RUN_MAX_PROCESSES": "2"})


async def test_an_unsandboxed_run_has_no_process_or_memory_bound() -> None:
    found = await enforcement(Resources(), sandboxed=False)
    assert [e.limit for e in found] == [
        "processes (1024 per run)",
        "memory (8 GiB per run, tmpfs included)",
        "disk (4 GiB per run: worktree and HOME)",
    ]
    assert [e.enforced for e in found[:2]] == [False, False]
    assert "BATON_SANDBOX=none" in found[0].how
