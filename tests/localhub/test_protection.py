"""Branch protection and rulesets in the emulator refuse a push as GitHub does, and Baton's push
reports GitHub's reason as a rule's refusal (never a network error to retry)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot import gitops
from bot.github import InstallationToken
from bot.localhub.server import LocalHubServer
from tests.localhub.conftest import APP_ID, OWNER, REPO, SLUG, Keys
from tests.localhub.test_server import git

pytestmark = pytest.mark.anyio

# What GitHub prints for each (from its documentation and real pushes): the parser reads these.
GITHUB_GH006 = """remote: error: GH006: Protected branch update failed for refs/heads/main.
remote: error: Changes must be made through a pull request.
To https://github.com/octo/app.git
 ! [remote rejected] main -> main (protected branch hook declined)
error: failed to push some refs to 'https://github.com/octo/app.git'"""
GITHUB_GH013 = """remote: error: GH013: Repository rule violations found for refs/heads/baton/1-x.
remote: Review all repository rules at https://github.com/octo/app/rules?ref=refs%2Fheads%2Fb
remote:
remote: - Cannot create ref due to creations being restricted.
remote:
To https://github.com/octo/app.git
 ! [remote rejected] HEAD -> baton/1-x (push declined due to repository rule violations)
error: failed to push some refs to 'https://github.com/octo/app.git'"""
NETWORK = "fatal: unable to access 'https://github.com/octo/app.git/': Could not resolve host"


def test_githubs_own_refusals_are_read_as_rules_with_their_reason() -> None:
    assert gitops.rule_rejection(GITHUB_GH006) == (
        "GH006: Protected branch update failed for refs/heads/main. "
        "Changes must be made through a pull request."
    )
    assert gitops.rule_rejection(GITHUB_GH013) == (
        "GH013: Repository rule violations found for refs/heads/baton/1-x. "
        "- Cannot create ref due to creations being restricted."
    )
    assert gitops.rule_rejection(NETWORK) is None
    assert gitops.rule_rejection("! [rejected] main -> main (stale info)") is None


@pytest.fixture
def hub(tmp_path: Path, keys: Keys) -> Iterator[LocalHubServer]:
    srv = LocalHubServer(data_dir=tmp_path / "hub", webhook_secret=b"s")
    srv.start()
    try:
        srv.hub.create_user(OWNER)
        srv.hub.create_user("someone")
        srv.hub.register_app(APP_ID, SLUG, keys.public_pem, None)
        srv.hub.install(APP_ID, OWNER)
        with admin() as client:
            client.post(f"{srv.api_url}user/repos", json={"name": REPO, "auto_init": True})
        yield srv
    finally:
        srv.stop()


def admin() -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"token {OWNER}"})


def _checkout(hub: LocalHubServer, tmp_path: Path) -> tuple[str, InstallationToken, Path]:
    inst = hub.hub.installation_for(APP_ID, OWNER)
    assert inst is not None
    token = InstallationToken(SecretStr(hub.hub.mint_token(inst.id).value), time.time() + 600)
    url = f"{hub.url}/{OWNER}/{REPO}.git"
    clone = tmp_path / "clone"
    assert git("clone", "-q", url, str(clone), cwd=tmp_path).returncode == 0
    (clone / "fix.txt").write_text("fixed\n")
    git("add", "fix.txt", cwd=clone)
    git("commit", "-qm", "Fix", cwd=clone)
    return url, token, clone


def _ruleset(hub: LocalHubServer) -> httpx.Response:
    with admin() as client:
        return client.post(
            f"{hub.api_url}repos/{OWNER}/{REPO}/rulesets",
            json={
                "name": "no bot branches",
                "target": "branch",
                "enforcement": "active",
                "conditions": {"ref_name": {"include": ["refs/heads/baton/*"], "exclude": []}},
                "rules": [{"type": "creation"}],
            },
        )


async def test_a_ruleset_refuses_baton_branches_with_githubs_reason(
    hub: LocalHubServer, tmp_path: Path
) -> None:
    made = _ruleset(hub)
    assert made.status_code == 201, made.text
    url, token, clone = _checkout(hub, tmp_path)
    wt = gitops.Worktree(path=clone, branch="baton/1-fix", base_sha="")

    with pytest.raises(gitops.PushRejected) as refused:
        await gitops.push(wt, clone_url=url, token=token, expected_remote=None)

    assert refused.value.reason == (
        "GH013: Repository rule violations found for refs/heads/baton/1-fix. "
        "- Cannot create ref due to creations being restricted."
    )
    assert "let Baton's App push this branch" in str(refused.value)
    assert not isinstance(refused.value, gitops.GitError)  # never retried as a network error
    assert "baton/1-fix" not in git("ls-remote", url, cwd=clone).stdout
    # Other branches are not covered by the ruleset.
    other = gitops.Worktree(path=clone, branch="topic", base_sha="")
    await gitops.push(other, clone_url=url, token=token, expected_remote=None)


def _protect_main(hub: LocalHubServer) -> None:
    url = f"{hub.api_url}repos/{OWNER}/{REPO}/branches/main/protection"
    with admin() as client:
        done = client.put(url, json={})
        assert done.status_code == 200, done.text
    reader = httpx.put(url, json={}, headers={"Authorization": "token someone"})
    assert reader.status_code == 404  # only admins may see or change protection


async def test_branch_protection_refuses_a_direct_push(hub: LocalHubServer, tmp_path: Path) -> None:
    _protect_main(hub)
    url, token, clone = _checkout(hub, tmp_path)
    main = gitops.Worktree(path=clone, branch="main", base_sha="")
    before = git("rev-parse", "HEAD~1", cwd=clone).stdout.strip()
    with pytest.raises(gitops.PushRejected, match="GH006: Protected branch update failed"):
        await gitops.push(main, clone_url=url, token=token, expected_remote=before)
    assert git("ls-remote", url, "refs/heads/main", cwd=clone).stdout.split()[0] == before
