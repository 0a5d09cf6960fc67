"""`baton config schema --org`: the JSON Schema of the org's agents.yml documents every key a
layer, the org's own keys and the kill switch, and judges org files as the loader does."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from config.cli import schema_main
from config.issues import ConfigError
from config.loader import load_org_file
from config.orgschema import ORG_SCHEMA_ID, org_json_schema
from config.schema import PAUSE_KEYS
from tests.config.schema_check import check, undocumented

FIXTURES = Path(__file__).parent / "fixtures"


def test_every_key_of_every_part_is_documented() -> None:
    schema = org_json_schema()
    assert schema["$id"] == ORG_SCHEMA_ID
    assert undocumented(schema) == []


def test_the_org_only_keys_and_the_kill_switch_are_offered_where_they_belong() -> None:
    defs = org_json_schema()["$defs"]
    layer, enforce = defs["Layer"]["properties"], defs["Enforce"]["properties"]
    for key in ("prices", "security", "max_concurrent_runs", "allowed_agents"):
        assert key in layer, key
        assert key in enforce, key
    assert "org_monthly_usd" in defs["Budget"]["properties"]
    assert set(PAUSE_KEYS) <= set(enforce)
    assert not set(PAUSE_KEYS) & set(layer)  # only under enforce


def test_the_design_org_file_is_valid() -> None:
    data = yaml.safe_load((FIXTURES / "design_org.yml").read_text())
    assert check(org_json_schema(), data) == []


ORG_FILES: list[tuple[str, dict[str, Any], bool]] = [
    ("kill switch", {"enforce": {"paused": True, "reason": "audit", "cancel_running": True}}, True),
    (
        "org caps",
        {"defaults": {"budget": {"org_monthly_usd": 900}, "max_concurrent_runs": 8}},
        True,
    ),
    ("a pattern", {"repos": {"docs-*": {"allowed_agents": ["claude"]}}}, True),
    ("org cap in a pattern", {"repos": {"docs-*": {"max_concurrent_runs": 2}}}, False),
    ("org budget in a pattern", {"repos": {"d*": {"budget": {"org_monthly_usd": 9}}}}, False),
    ("unknown top key", {"default": {}}, False),
    ("unknown enforce key", {"enforce": {"pause": True}}, False),
    ("pause outside enforce", {"defaults": {"paused": True}}, False),
    ("wrong type", {"enforce": {"paused": "yes please"}}, False),
]


@pytest.mark.parametrize(("case", "data", "valid"), ORG_FILES, ids=[c for c, _, _ in ORG_FILES])
def test_the_schema_agrees_with_the_loader(case: str, data: dict[str, Any], valid: bool) -> None:
    del case
    assert (check(org_json_schema(), data) == []) is valid
    try:
        load_org_file(yaml.safe_dump(data))
    except ConfigError:
        loaded = False
    else:
        loaded = True
    assert loaded is valid


def test_the_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert schema_main(["--org"], out=out) == 0
    assert json.loads(out.getvalue())["$id"] == ORG_SCHEMA_ID
    assert main(["config", "schema", "--org"]) == 0
    assert json.loads(capsys.readouterr().out) == org_json_schema()
