"""Server settings: one typed model read once from `BATON_*` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ByteSize, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.errors import BatonError

DEFAULT_GITHUB_URL = "https://api.github.com/"


class SettingsError(BatonError):
    """The server's settings are missing or invalid; the message says what to set."""


class Settings(BaseSettings):
    """Everything the server and worker need from their environment.

    Only `serve` and `worker` need GitHub credentials and the webhook secret; every other
    command works without them (`require_server` is the gate; `server_problems` also checks
    that they are well-formed).
    """

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="forbid", frozen=True)

    app_id: str | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    # The app's slug: its own comments come from "<slug>[bot]" and are never treated as commands.
    app_slug: str = "baton"
    github_url: str = DEFAULT_GITHUB_URL
    database_url: str = "sqlite:///baton.db"
    settings_repo: str = ".github"
    label_prefix: str = "agent:"
    command: str = "/agent"
    # Where mirrors and per-run worktrees live.
    workdir: Path = Path(".baton")
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Retries of a failed run job (GitHub 5xx, timeouts) before the failure is reported.
    job_max_attempts: int = Field(default=4, ge=1, le=20)
    job_retry_base_s: float = Field(default=5.0, ge=0.0)
    # This server's public address: GitHub posts to PUBLIC_URL/webhooks.
    public_url: str = ""
    # The App's OAuth client, for logging in to the dashboard (`baton register` writes both).
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Seconds between looks at the App's recent deliveries, to ask GitHub again for those that
    # never reached Baton (also done once at start); 0 turns the catch-up off.
    redeliver_interval_s: float = Field(default=300.0, ge=0.0)
    # The dashboard: an operator token that signs in without GitHub (and reads /metrics); the
    # key its session cookies are signed with (unset: derived from the App's private key, the
    # same in every process and replaced with the key).
    dashboard_token: SecretStr | None = None
    session_secret: SecretStr | None = None
    # While the org's kill switch is on: how often a run waiting for its end (`resume_queued`)
    # and a running run (`cancel_running`) look at the org's agents.yml again.
    pause_recheck_s: float = Field(default=30.0, gt=0.0)
    log_level: str = "INFO"
    # "json": one object per line, with the delivery, run, repository and agent where known.
    log_format: Literal["text", "json"] = "text"
    # "none" runs harness and command agents without bubblewrap (logged as a warning each run).
    sandbox: Literal["bubblewrap", "none"] = "bubblewrap"
    # Per agent run, all of its processes together, enforced even when Baton runs as root
    # (adapters/runlimits.py; `baton doctor` says how on this machine). Sizes take bytes or
    # units: "8GiB", "512MiB" (1024-based; "8GB" means 8 * 10^9).
    run_max_processes: int = Field(default=1024, ge=16, le=4_194_304)
    run_max_memory: ByteSize = Field(default=ByteSize(8 * 1024**3), ge=64 * 1024**2)
    run_max_disk: ByteSize = Field(default=ByteSize(4 * 1024**3), ge=16 * 1024**2)
    # Where `baton serve` runs jobs: "process" (a `baton worker` child, so agent runs never
    # slow webhook acknowledgements), "inline" (on the server's own event loop), or "none" (a
    # web replica that only accepts and enqueues; `baton worker` processes elsewhere run jobs).
    worker: Literal["process", "inline", "none"] = "process"
    # PostgreSQL: a worker that stops (kill -9, power loss, OOM) has its jobs taken back by the
    # others within this many seconds (heartbeats every twelfth of it).
    worker_recovery_s: float = Field(default=60.0, ge=3.0, le=3600.0)
    # SIGTERM to a worker: running agents may finish for this long, then what is left goes
    # back to the queue for another worker.
    shutdown_grace_s: float = Field(default=30.0, ge=0.0, le=86_400.0)
    # PostgreSQL connections one process keeps at most (a worker's LISTEN is one more);
    # unset: the worker concurrency plus 6.
    database_pool_size: int | None = Field(default=None, ge=2, le=500)
    # The periodic cleanup: finished jobs and run events older than these are deleted (the
    # ledger's rows are kept; deliveries go once GitHub can no longer redeliver them).
    job_retention_days: float = Field(default=7.0, gt=0)
    event_retention_days: float = Field(default=90.0, gt=0)
    # Comma-separated bot logins (e.g. "dependabot[bot]") allowed to trigger, on top of config.
    allow_bots: Annotated[tuple[str, ...], NoDecode] = ()
    # Comma-separated server variables (or NAME_* patterns) a config's `${VAR}` may expand;
    # never BATON_*, GitHub's credentials or another agent's model key, whatever is listed.
    agent_env_allow: Annotated[tuple[str, ...], NoDecode] = ()
    # Comma-separated model endpoints (base URLs) agents may be relayed to, on top of the
    # vendors' own and the base URLs set in the server's environment.
    model_endpoints: Annotated[tuple[str, ...], NoDecode] = ()
    # The scoreboard counts an open (ready) pull request in its rates once it is this old.
    stats_window_days: float = Field(default=7.0, gt=0)
    # Least time between two updates of a run's live check run (it grows with the run's age).
    check_run_update_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        for key in ("allow_bots", "agent_env_allow", "model_endpoints"):
            raw = data.get(key)
            if isinstance(raw, str):
                data = {**data, key: tuple(b.strip() for b in raw.split(",") if b.strip())}
        return data

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"

    @property
    def pool_size(self) -> int:
        """PostgreSQL connections this process keeps at most."""
        if self.database_pool_size is not None:
            return self.database_pool_size
        return self.worker_concurrency + 6

    def private_key_pem(self) -> str:
        """The app's private key, from the variable or the file it names."""
        if self.private_key is not None:
            return self.private_key.get_secret_value()
        if self.private_key_path is not None:
            try:
                return self.private_key_path.read_text()
            except OSError as exc:
                raise SettingsError(
                    f"BATON_PRIVATE_KEY_PATH={self.private_key_path} cannot be read: {exc.strerror}"
                ) from exc
        raise SettingsError("set BATON_PRIVATE_KEY or BATON_PRIVATE_KEY_PATH")

    def _missing(self) -> list[str]:
        missing = []
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            missing.append("BATON_WEBHOOK_SECRET (the secret GitHub signs webhooks with)")
        if not self.app_id:
            missing.append("BATON_APP_ID (the GitHub App's id)")
        if self.private_key is None and self.private_key_path is None:
            missing.append("BATON_PRIVATE_KEY or BATON_PRIVATE_KEY_PATH (the app's private key)")
        return missing

    def require_server(self) -> None:
        """Refuse to serve without what the server cannot work without, saying what is missing."""
        missing = self._missing()
        if missing:
            raise SettingsError("cannot start: missing " + "; ".join(missing))

    def server_problems(self) -> list[str]:
        """What is missing or malformed among the server's own settings, one phrase each (never
        a secret's value); empty when `serve` and `worker` can start. Reads the key's file."""
        missing = self._missing()
        problems = ["missing " + "; missing ".join(missing)] if missing else []
        if self.app_id and not self.app_id.isdigit():
            problems.append(
                f"BATON_APP_ID={self.app_id!r} is not a number (the App's id, on its settings page)"
            )
        if self.private_key is not None or self.private_key_path is not None:
            try:
                problem = private_key_problem(self.private_key_pem())
            except SettingsError as exc:
                problem = str(exc)
            if problem is not None:
                where = (
                    "BATON_PRIVATE_KEY"
                    if self.private_key is not None
                    else f"BATON_PRIVATE_KEY_PATH={self.private_key_path}"
                )
                problems.append(problem if problem.startswith(where) else f"{where}: {problem}")
        return problems

    @property
    def webhook_secret_bytes(self) -> bytes:
        """The current secret (the first, while a rotation lists the old one after it)."""
        return self.webhook_secrets[0]

    @property
    def webhook_secrets(self) -> tuple[bytes, ...]:
        """Every secret a delivery may be signed with: `new,old` while an operator rotates it
        (GitHub signs with the new one once it is saved; deliveries in flight, or redelivered,
        still carry the old signature)."""
        if self.webhook_secret is None:
            raise SettingsError("BATON_WEBHOOK_SECRET is not set")
        parts = [p.strip() for p in self.webhook_secret.get_secret_value().split(",")]
        secrets = tuple(p.encode() for p in parts if p)
        if not secrets:
            raise SettingsError("BATON_WEBHOOK_SECRET is empty")
        return secrets


def private_key_problem(pem: str) -> str | None:
    """Why `pem` is not a GitHub App's private key (an unencrypted RSA key in PEM), or None."""
    if not pem.strip():
        return "the key is empty"
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        return "the key is encrypted: give the unencrypted PEM GitHub downloads"
    except (ValueError, UnsupportedAlgorithm):
        return "not a PEM private key (the .pem file GitHub downloads from the App's settings)"
    if not isinstance(key, rsa.RSAPrivateKey):
        return "not an RSA key (GitHub Apps sign with RSA keys)"
    return None


class _FromMapping(Settings):
    """Settings read only from the mapping given to `load_settings` (tests inject their env)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        del settings_cls, env_settings, dotenv_settings, file_secret_settings
        return (init_settings,)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings once, from `env` when given (tests) or the process environment."""
    try:
        if env is None:
            return Settings()
        values = {
            k.removeprefix("BATON_").lower(): v for k, v in env.items() if k.startswith("BATON_")
        }
        return _FromMapping.model_validate(values)
    except ValidationError as exc:
        lines = [
            f"BATON_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        # One line, as every startup error: a log collector keeps it whole.
        raise SettingsError("invalid settings: " + "; ".join(lines)) from exc
