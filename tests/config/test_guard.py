"""A repository's config reaches only what the operator, and for its repos the org, allowed."""

from __future__ import annotations

import pytest

from adapters.registry import KNOWN_ADAPTERS
from config.guard import Operator, endpoint_allowed, origin
from config.loader import ConfigError, load_org_file, load_repo_file
from config.merge import Effective, effective_config

ORG = "acme/.github:agents.yml"
OPERATOR = Operator.from_server(
    env_allow=("ACME_*", "SHARED_TOKEN"),
    endpoints=("http://gateway.internal:4000/v1",),
    env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9999"},
    forbidden=("https://api.github.com/", "https://baton.acme.dev"),
)


def command_agent(extra: str) -> str:
    return "version: 1\nagents:\n  tool:\n    adapter: command\n    command: [tool]\n" + extra


def merged(repo: str | None, org: str | None = None) -> Effective:
    return effective_config(
        repo=load_repo_file(repo) if repo is not None else None,
        org=load_org_file(org, file=ORG) if org is not None else None,
        repo_name="app",
        known_adapters=KNOWN_ADAPTERS,
        operator=OPERATOR,
    )


def errors(repo: str | None, org: str | None = None) -> list[str]:
    try:
        merged(repo, org)
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def test_batons_settings_are_never_expanded_whatever_the_layer() -> None:
    repo = command_agent("    env: {LEAK: '${BATON_WEBHOOK_SECRET}'}\n")
    [found] = errors(repo)
    assert found.startswith(".agents.yml:6:")
    assert "agents.tool.env.LEAK" in found
    assert "${BATON_WEBHOOK_SECRET}" in found
    assert "never reaches an agent" in found
    org = (
        "version: 1\ndefaults:\n  agents:\n    tool: {adapter: command, command: [t], "
        "env: {K: '${BATON_PRIVATE_KEY}'}}\n"
    )
    [found] = errors(None, org)
    assert found.startswith(f"{ORG}:4:")


def test_github_credentials_are_never_expanded() -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        [found] = errors(command_agent(f"    env: {{T: '${{{name}}}'}}\n"))
        assert "never reaches an agent" in found


def test_a_variable_the_operator_did_not_allow_names_the_setting_that_would() -> None:
    [found] = errors(command_agent("    env: {X: 'Bearer ${DEPLOY_KEY}'}\n"))
    assert "BATON_AGENT_ENV_ALLOW" in found
    assert "ACME_*, SHARED_TOKEN" in found


def test_a_repository_needs_the_orgs_grant_within_the_operators() -> None:
    repo = command_agent("    env: {X: '${ACME_KEY}'}\n")
    [found] = errors(repo)
    assert "security.env_allow" in found
    org = "version: 1\ndefaults:\n  security: {env_allow: [ACME_KEY]}\n"
    assert errors(repo, org) == []
    agent = merged(repo, org).config.agents["tool"]
    assert agent.env == {"X": "${ACME_KEY}"}


def test_the_org_cannot_grant_what_the_operator_does_not() -> None:
    repo = command_agent("    env: {X: '${DEPLOY_KEY}'}\n")
    org = "version: 1\ndefaults:\n  security: {env_allow: [DEPLOY_KEY]}\n"
    [found] = errors(repo, org)
    assert "BATON_AGENT_ENV_ALLOW" in found


def test_the_orgs_own_agents_use_what_the_operator_allows() -> None:
    org = (
        "version: 1\ndefaults:\n  agents:\n    tool: {adapter: command, command: [t], "
        "env: {K: '${SHARED_TOKEN}'}}\n"
    )
    assert errors(None, org) == []


def test_a_model_key_reaches_only_the_agent_that_names_it_as_its_own() -> None:
    [found] = errors(command_agent("    env: {K: '${OPENAI_API_KEY}'}\n"))
    assert "api_key_env" in found
    own = command_agent("    api_key_env: OPENAI_API_KEY\n    env: {K: '${OPENAI_API_KEY}'}\n")
    assert errors(own) == []


def test_a_repository_base_url_must_be_an_allowed_endpoint() -> None:
    def agent(url: str) -> str:
        return f"version: 1\nagents:\n  claude: {{adapter: claude-code, base_url: '{url}'}}\n"

    [found] = errors(agent("http://10.0.0.5:6379"))
    assert found.startswith(".agents.yml:3:")
    assert "BATON_MODEL_ENDPOINTS" in found
    assert errors(agent("http://gateway.internal:4000/v1")) == []
    assert errors(agent("http://127.0.0.1:9999")) == []  # the server's own ANTHROPIC_BASE_URL
    assert errors(agent("https://api.anthropic.com")) == []
    org = "version: 1\ndefaults:\n  security: {model_endpoints: ['http://10.0.0.5:6379']}\n"
    assert errors(agent("http://10.0.0.5:6379"), org) == []


def test_githubs_api_and_batons_own_url_are_never_endpoints() -> None:
    org = (
        "version: 1\ndefaults:\n  agents:\n    claude: {adapter: claude-code, "
        "base_url: 'https://api.github.com'}\n"
    )
    [found] = errors(None, org)
    assert "never a model endpoint" in found
    repo = "version: 1\nagents:\n  claude: {adapter: claude-code, base_url: 'https://baton.acme.dev/x'}\n"
    [found] = errors(
        repo, "version: 1\ndefaults:\n  security: {model_endpoints: ['https://baton.acme.dev']}\n"
    )
    assert "never a model endpoint" in found


def test_the_hosts_network_needs_the_orgs_permission() -> None:
    repo = "version: 1\nagents:\n  claude: {adapter: claude-code, sandbox: {network: host}}\n"
    [found] = errors(repo)
    assert "allow_host_network" in found
    org = "version: 1\nenforce:\n  security: {allow_host_network: true}\n"
    assert errors(repo, org) == []


def test_agents_are_cut_off_from_the_network_by_default() -> None:
    config = merged(None).config
    assert {a.sandbox.network for a in config.agents.values()} == {"none"}


def test_a_repository_cannot_grant_itself_security() -> None:
    with pytest.raises(ConfigError) as caught:
        load_repo_file("version: 1\nsecurity: {allow_host_network: true}\n")
    assert "security is granted by the org" in str(caught.value.issues[0])


def test_endpoints_compare_by_origin_and_path() -> None:
    assert origin("HTTPS://API.Anthropic.com/") == "https://api.anthropic.com:443"
    assert origin("http://[::1]:8080/v1") == "http://[::1]:8080"
    assert endpoint_allowed("http://gw:4000/v1/chat", ["http://gw:4000/v1"])
    assert not endpoint_allowed("http://gw:4000/v2", ["http://gw:4000/v1"])
    assert not endpoint_allowed("http://gw:4001/v1", ["http://gw:4000/v1"])
    assert not endpoint_allowed("ftp://gw/v1", ["ftp://gw/v1"])


def test_the_repositorys_check_gets_the_hosts_network_only_with_the_orgs_permission() -> None:
    repo = "version: 1\nverify: {command: [make, test], network: host}\n"
    [found] = errors(repo)
    assert "verify.network" in found
    assert "allow_host_network" in found
    assert errors(repo, "version: 1\ndefaults:\n  security: {allow_host_network: true}\n") == []
    config = merged("version: 1\nverify: {command: [make, test]}\n").config
    assert config.verify is not None
    assert config.verify.network == "none"
