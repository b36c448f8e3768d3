"""QBO's per-company limits: requests in flight, requests per minute, batch size and rate.

Batches: at most `batch_per_minute` (40) a minute per realm and app, and `realm_batch_per_minute`
(120) a minute per realm whatever the app.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class LimitsConfig:
    enabled: bool = True
    max_in_flight: int = 10
    per_minute: int = 500
    batch_per_minute: int = 40  # per realm + app
    batch_max_items: int = 30
    realm_batch_per_minute: int = 120  # per realm, all apps

    def updated(self, body: dict[str, Any]) -> LimitsConfig:
        known = {k: body[k] for k in self.__dataclass_fields__ if k in body}
        return replace(self, **known)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Limiter:
    """One company's counters. `admit` returns False when a request must get a 429."""

    config: LimitsConfig
    in_flight: int = 0
    recent: deque[float] = field(default_factory=deque)
    batches: deque[float] = field(default_factory=deque)  # the realm's, all apps
    app_batches: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, now: float, *, batch: bool, app: str = "") -> bool:
        if not self.config.enabled:
            self.in_flight += 1
            return True
        app_window = self.app_batches.setdefault(app, deque()) if batch else None
        for window in (self.recent, self.batches, app_window):
            while window and now - window[0] >= 60.0:
                window.popleft()
        if self.in_flight >= self.config.max_in_flight:
            return False
        if len(self.recent) >= self.config.per_minute:
            return False
        if app_window is not None and (
            len(app_window) >= self.config.batch_per_minute
            or len(self.batches) >= self.config.realm_batch_per_minute
        ):
            return False
        self.recent.append(now)
        if app_window is not None:
            app_window.append(now)
            self.batches.append(now)
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
