"""Branch protection and rulesets, refusing pushes the way GitHub does.

`PUT /repos/{o}/{r}/branches/{branch}/protection` and `POST /repos/{o}/{r}/rulesets` (admins
only) record rules; a real `pre-receive` hook in the repository enforces them on every push,
printing GitHub's own messages (`GH006: Protected branch update failed for ...`, `GH013:
Repository rule violations found for ...`), which git shows its pusher as `remote:` lines. The
refused ref's `[remote rejected]` reason is git's ("pre-receive hook declined") where GitHub
names its hook; the GH codes and texts are GitHub's.
"""

from __future__ import annotations

import json
import sys
from itertools import count
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from bot.localhub.http import (
    ApiError,
    body_json,
    hub_of,
    invalid,
    json_response,
    principal,
    repo_or_404,
)

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.requests import Request
    from starlette.responses import Response

    from bot.localhub.state import Repo

RULES_FILE = "localhub-rules.json"
RULE_TYPES = frozenset({"creation", "update", "deletion", "non_fast_forward"})
_ids = count(1)

# Run by git as the repository's pre-receive hook; reads the rules file beside it. It refuses
# the whole push when one ref breaks a rule (GitHub, too, accepts a push whole or not at all).
_HOOK = """#!{python}
import fnmatch, json, os, subprocess, sys

ZERO = "0" * 40
rules = json.load(open(os.path.join(os.environ.get("GIT_DIR", "."), "{rules}")))


def fast_forward(old, new):
    done = subprocess.run(["git", "merge-base", "--is-ancestor", old, new])
    return done.returncode == 0


refused = []
for line in sys.stdin:
    old, new, ref = line.split()
    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/"):]
        if branch in rules["protected"] and rules["protected"][branch]:
            refused.append(("GH006", "Protected branch update failed for " + ref + ".",
                            ["Changes must be made through a pull request."]))
            continue
    broken = []
    for ruleset in rules["rulesets"]:
        cond = ruleset["include"]
        if not any(fnmatch.fnmatchcase(ref, p) for p in cond):
            continue
        if any(fnmatch.fnmatchcase(ref, p) for p in ruleset["exclude"]):
            continue
        kinds = set(ruleset["rules"])
        if old == ZERO and "creation" in kinds:
            broken.append("Cannot create ref due to creations being restricted.")
        elif new == ZERO and "deletion" in kinds:
            broken.append("Cannot delete this protected ref.")
        elif old != ZERO and new != ZERO:
            if "update" in kinds:
                broken.append("Cannot update this protected ref.")
            elif "non_fast_forward" in kinds and not fast_forward(old, new):
                broken.append("Cannot force-push to this branch")
    if broken:
        refused.append(("GH013", "Repository rule violations found for " + ref + ".", broken))

if refused:
    for code, title, reasons in refused:
        print("error: " + code + ": " + title, file=sys.stderr)
        print("Review all repository rules at " + rules["rules_url"], file=sys.stderr)
        print("", file=sys.stderr)
        for reason in reasons:
            print("- " + reason, file=sys.stderr)
        print("", file=sys.stderr)
    sys.exit(1)
"""


def _rules(repo: Repo) -> dict[str, Any]:
    path = repo.path / RULES_FILE
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"protected": {}, "rulesets": [], "rules_url": ""}


def _install(repo: Repo, rules: dict[str, Any], base_url: str) -> None:
    """Write the rules and the hook that enforces them into the bare repository."""
    rules["rules_url"] = f"{base_url.rstrip('/')}/{repo.full_name}/rules"
    (repo.path / RULES_FILE).write_text(json.dumps(rules))
    hook: Path = repo.path / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(_HOOK.replace("{python}", sys.executable).replace("{rules}", RULES_FILE))
    hook.chmod(0o755)


def _admin(request: Request, repo: Repo) -> None:
    who = principal(request)
    if who.kind != "user" or not who.login:
        raise ApiError(403, "Resource not accessible by integration")
    if hub_of(request).permission(repo, who.login) != "admin":
        raise ApiError(404, "Not Found")


def _web_url(request: Request) -> str:
    return str(request.base_url)


async def set_protection(request: Request) -> Response:
    repo = repo_or_404(request)
    _admin(request, repo)
    branch = request.path_params["branch"]
    await body_json(request)  # GitHub requires a body; its checks are not emulated
    rules = _rules(repo)
    rules["protected"][branch] = True
    _install(repo, rules, _web_url(request))
    url = f"{request.base_url}repos/{repo.full_name}/branches/{branch}/protection"
    return json_response(request, {"url": url, "enforce_admins": {"enabled": True}})


async def remove_protection(request: Request) -> Response:
    repo = repo_or_404(request)
    _admin(request, repo)
    rules = _rules(repo)
    rules["protected"].pop(request.path_params["branch"], None)
    _install(repo, rules, _web_url(request))
    return json_response(request, None, status=204, raw=b"")


async def create_ruleset(request: Request) -> Response:
    repo = repo_or_404(request)
    _admin(request, repo)
    body = await body_json(request)
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise invalid("Ruleset", "name")
    if body.get("target", "branch") != "branch":
        raise invalid("Ruleset", "target", "invalid")
    ref_name = (body.get("conditions") or {}).get("ref_name") or {}
    kinds = [r.get("type") for r in body.get("rules") or [] if isinstance(r, dict)]
    if not kinds or not set(kinds) <= RULE_TYPES:
        raise invalid("Ruleset", "rules", "invalid")
    ruleset = {
        "id": next(_ids),
        "name": body["name"],
        "include": [str(p) for p in ref_name.get("include") or []],
        "exclude": [str(p) for p in ref_name.get("exclude") or []],
        "rules": kinds,
    }
    rules = _rules(repo)
    if body.get("enforcement", "active") == "active":
        rules["rulesets"].append(ruleset)
    _install(repo, rules, _web_url(request))
    shape = {
        "id": ruleset["id"],
        "name": ruleset["name"],
        "target": "branch",
        "source_type": "Repository",
        "source": repo.full_name,
        "enforcement": body.get("enforcement", "active"),
        "conditions": {"ref_name": {"include": ruleset["include"], "exclude": ruleset["exclude"]}},
        "rules": [{"type": kind} for kind in kinds],
    }
    return json_response(request, shape, status=201)


ROUTES = [
    Route(
        "/repos/{owner}/{repo}/branches/{branch:path}/protection",
        set_protection,
        methods=["PUT"],
    ),
    Route(
        "/repos/{owner}/{repo}/branches/{branch:path}/protection",
        remove_protection,
        methods=["DELETE"],
    ),
    Route("/repos/{owner}/{repo}/rulesets", create_ruleset, methods=["POST"]),
]
