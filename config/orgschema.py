"""JSON Schema for the org's `agents.yml` (in its settings repository): `defaults` and each
`repos` pattern hold a layer of configuration, `enforce` a layer that locks its keys plus the
org's kill switch. `baton config schema --org` prints it."""

from __future__ import annotations

import copy
from typing import Any

from config.render import layer_schema
from config.schema import Pause

ORG_SCHEMA_ID = "urn:baton:schema:org-agents-yml:v1"

PAUSE_DOCS: dict[str, str] = {
    "paused": "The kill switch: while true no run starts anywhere in the org, and every trigger "
    "is answered once with `reason`.",
    "reason": "Why runs are paused, quoted in every reply while they are.",
    "cancel_running": "With `paused`: running runs are cancelled too, their work kept in a draft "
    "pull request as at a budget stop.",
    "resume_queued": "Runs asked for while paused wait and start by themselves once the pause "
    "is lifted; without it they are refused and must be asked for again.",
}


def org_json_schema() -> dict[str, Any]:
    layer = layer_schema()
    definitions: dict[str, Any] = layer.pop("$defs")
    layer["properties"].pop("version", None)  # the file's, not a layer's
    layer.pop("title", None)
    layer["description"] = "A layer of configuration: the keys of `.agents.yml`, and the org's."
    enforce = copy.deepcopy(layer)
    enforce["description"] = (
        "Keys locked for every repository (a repository's file cannot change them), and the "
        "org's kill switch."
    )
    for key, prop in Pause.model_json_schema()["properties"].items():
        enforce["properties"][key] = {**prop, "description": PAUSE_DOCS[key]}
    # A `repos` pattern is one repository's settings: the org-wide caps are refused there.
    pattern = copy.deepcopy(layer)
    pattern["description"] = "The configuration of the repositories matching a pattern."
    pattern["properties"].pop("max_concurrent_runs", None)
    budget = copy.deepcopy(definitions["Budget"])
    budget["properties"].pop("org_monthly_usd", None)
    budget["title"] = "Budget of a repos pattern"
    pattern["properties"]["budget"] = {
        **{k: v for k, v in layer["properties"]["budget"].items() if k != "default"},
        "$ref": "#/$defs/PatternBudget",
    }
    definitions["Layer"], definitions["Enforce"] = layer, enforce
    definitions["Pattern"], definitions["PatternBudget"] = pattern, budget
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ORG_SCHEMA_ID,
        "title": "Baton org agents.yml (version 1)",
        "description": "The org's configuration of Baton, in its settings repository: defaults "
        "for every repository, settings for repositories matching a pattern, and what is locked.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1, "default": 1, "description": "The file format's version."},
            "defaults": {
                "$ref": "#/$defs/Layer",
                "description": "Every repository's configuration, below its own `.agents.yml`.",
            },
            "repos": {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/Pattern"},
                "description": "Configuration for repositories whose name matches the pattern "
                "(`owner/name` globs), between the defaults and the repository's file.",
            },
            "enforce": {
                "$ref": "#/$defs/Enforce",
                "description": "Keys locked org-wide, above every repository's file, and the "
                "kill switch.",
            },
        },
        "$defs": definitions,
    }
