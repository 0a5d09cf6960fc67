"""What a repository's config may reach of the server: the operator's allowances, checked after
the merge so each refusal points at the `file:line:col` that asked.

A repository's `.agents.yml` is written by that repository's maintainers, not by the operator
who runs Baton for many organizations, so it can name only what the operator (and, for its own
repositories, the org's settings repo) allowed: server variables for `${VAR}`, model endpoints
for `base_url`, and the host's network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from config.issues import ConfigIssue, IssueAt, Path
from config.schema import AgentsConfig

if TYPE_CHECKING:
    from config.settings import Settings

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Never expanded, whatever anyone allows: Baton's own settings (the App's key, the webhook
# secret) and GitHub's credentials.
NEVER = ("BATON_*", "GITHUB_*", "GH_*", "GIT_*")
# The vendors' model-key variables: each reaches only an agent whose `api_key_env` names it.
MODEL_KEYS = frozenset({"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"})
# Where the built-in adapters send requests when no base URL is set.
VENDOR_ENDPOINTS = (
    "https://api.anthropic.com",
    "https://api.openai.com",
    "https://generativelanguage.googleapis.com",
)
BASE_URL_VARS = ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL")
ORG_FILE_HINT = "the org's agents.yml (`security:` in defaults, repos or enforce)"


@dataclass(frozen=True, slots=True)
class Operator:
    """What the operator of this Baton server allows any configuration to use."""

    env_allow: tuple[str, ...] = ()  # BATON_AGENT_ENV_ALLOW: names (or NAME_* patterns)
    endpoints: tuple[str, ...] = VENDOR_ENDPOINTS  # model endpoints agents may be relayed to
    forbidden: tuple[str, ...] = ()  # origins never relayed to (GitHub's API, Baton's own URL)

    @classmethod
    def from_server(
        cls,
        *,
        env_allow: Collection[str],
        endpoints: Collection[str],
        env: Mapping[str, str],
        forbidden: Collection[str] = (),
    ) -> Operator:
        """The operator's endpoints: the vendors', BATON_MODEL_ENDPOINTS, and any base URL the
        server's own environment sets (the operator put it there)."""
        from_env = [env[name] for name in BASE_URL_VARS if env.get(name)]
        every = (*VENDOR_ENDPOINTS, *endpoints, *from_env)
        return cls(
            env_allow=tuple(env_allow),
            endpoints=tuple(dict.fromkeys(every)),
            forbidden=tuple(o for o in (origin(f) for f in forbidden if f) if o),
        )

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str]) -> Operator:
        """The operator's allowances; GitHub's API and Baton's own URL are never endpoints."""
        return cls.from_server(
            env_allow=settings.agent_env_allow,
            endpoints=settings.model_endpoints,
            env=env,
            forbidden=(settings.github_url, settings.public_url),
        )

    def allows_env(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.env_allow)


def never_expanded(name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in NEVER)


def origin(url: str) -> str | None:
    """`scheme://host:port` with the default port made explicit; None for a URL without host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname.lower()
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def endpoint_allowed(url: str, allowed: Collection[str]) -> bool:
    """Same origin as an allowed endpoint, and under its path."""
    want = origin(url)
    path = urlsplit(url).path.rstrip("/")
    for entry in allowed:
        base = urlsplit(entry).path.rstrip("/")
        if want is not None and origin(entry) == want and (path + "/").startswith(base + "/"):
            return True
    return False


LayerOf = Callable[[Path], str]


def containment_issues(
    config: AgentsConfig, *, operator: Operator, layer_of: LayerOf, issue: IssueAt
) -> list[ConfigIssue]:
    """Every `${VAR}`, `base_url` and `network: host` the layers that set them may not use."""
    issues: list[ConfigIssue] = []
    org_env = tuple(config.security.env_allow)
    org_endpoints = (*operator.endpoints, *config.security.model_endpoints)
    for name, agent in config.agents.items():
        for key, value in agent.env.items():
            path: Path = ("agents", name, "env", key)
            from_repo = layer_of(path) in {"repo", "flag"}
            for var in ENV_REF.findall(value):
                why = _env_refusal(
                    var,
                    own_key=agent.api_key_env,
                    operator=operator,
                    org_allow=org_env if from_repo else None,
                )
                if why:
                    issues.append(issue(path, f"agents.{name}.env.{key}: {why}"))
        if agent.base_url:
            path = ("agents", name, "base_url")
            why = _endpoint_refusal(
                agent.base_url,
                operator=operator,
                allowed=org_endpoints if layer_of(path) in {"repo", "flag"} else None,
            )
            if why:
                issues.append(issue(path, f"agents.{name}.base_url: {why}"))
        if agent.sandbox.network == "host" and not config.security.allow_host_network:
            issues.append(
                issue(
                    ("agents", name, "sandbox", "network"),
                    f"agents.{name}.sandbox.network: `host` lets the agent reach every address "
                    "the server can; the org must allow it with `security: "
                    f"{{allow_host_network: true}}` in {ORG_FILE_HINT}",
                )
            )
    verify = config.verify
    if verify is not None and verify.network == "host" and not config.security.allow_host_network:
        issues.append(
            issue(
                ("verify", "network"),
                "verify.network: `host` lets the agent's code reach every address the server "
                f"can; the org must allow it with `security: {{allow_host_network: true}}` in "
                f"{ORG_FILE_HINT}",
            )
        )
    return issues


def _env_refusal(
    var: str, *, own_key: str | None, operator: Operator, org_allow: tuple[str, ...] | None
) -> str:
    if never_expanded(var):
        return f"`${{{var}}}` is one of Baton's or GitHub's credentials and never reaches an agent"
    if var in MODEL_KEYS and var != own_key:
        return (
            f"`${{{var}}}` is a model key: it reaches only an agent whose `api_key_env` "
            f"names it (set `api_key_env: {var}` on this agent to hand it its own key)"
        )
    if var == own_key:
        return ""
    if not operator.allows_env(var):
        return (
            f"`${{{var}}}` is not in the operator's BATON_AGENT_ENV_ALLOW (now "
            f"{', '.join(operator.env_allow) or 'empty'}); ask the operator of this Baton "
            "server to allow it"
        )
    if org_allow is not None and not any(fnmatchcase(var, p) for p in org_allow):
        return (
            f"`${{{var}}}` in a repository's own file needs the org's permission: add {var} "
            f"to `security.env_allow` in {ORG_FILE_HINT}"
        )
    return ""


def _endpoint_refusal(url: str, *, operator: Operator, allowed: tuple[str, ...] | None) -> str:
    here = origin(url)
    if here is None:
        return f"{url!r} is not an http(s) URL with a host"
    if here in operator.forbidden:
        return f"{url!r} is Baton's own server or GitHub's API, never a model endpoint"
    if allowed is not None and not endpoint_allowed(url, allowed):
        return (
            f"{url!r} is not a model endpoint the operator (BATON_MODEL_ENDPOINTS) or the "
            f"org (`security.model_endpoints` in {ORG_FILE_HINT}) allows"
        )
    return ""
