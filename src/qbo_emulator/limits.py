"""QBO's per-company limits (choices.py says where each comes from):

- requests: at most `per_minute` (500) in any rolling minute per realm, batches included;
- at most `max_in_flight` (10) requests running at once per realm and app, and, when
  `per_second` is set (off by default, see choices.py), at most that many in any rolling second;
- batches: at most `batch_per_minute` (40) in any rolling minute per realm and app, and
  `realm_batch_per_minute` (120) per realm whatever the app; more than `batch_max_items` (30)
  items in one batch is fault 1040.

A request over a limit is answered 429 (the XML 3001 body) and is not counted.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

from qbo_emulator import choices

MINUTE = 60.0
SECOND = 1.0


@dataclass(frozen=True)
class LimitsConfig:
    enabled: bool = True
    max_in_flight: int = choices.LIMIT_IN_FLIGHT  # per realm + app
    per_second: int = choices.LIMIT_PER_SECOND  # per realm + app
    per_minute: int = choices.LIMIT_PER_MINUTE  # per realm
    batch_per_minute: int = choices.LIMIT_BATCH_PER_MINUTE  # per realm + app
    batch_max_items: int = choices.LIMIT_BATCH_MAX_ITEMS
    realm_batch_per_minute: int = choices.LIMIT_REALM_BATCH_PER_MINUTE  # per realm, all apps

    def updated(self, body: dict[str, Any]) -> LimitsConfig:
        known = {k: body[k] for k in self.__dataclass_fields__ if k in body}
        return replace(self, **known)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _trim(window: deque[float], now: float, span: float) -> deque[float]:
    """Forget what left the rolling window: a send exactly `span` ago no longer counts."""
    while window and now - window[0] >= span:
        window.popleft()
    return window


@dataclass
class Limiter:
    """One company's counters. `admit` returns False when a request must get a 429."""

    config: LimitsConfig
    recent: deque[float] = field(default_factory=deque)  # the realm's, all apps
    batches: deque[float] = field(default_factory=deque)  # the realm's, all apps
    app_in_flight: dict[str, int] = field(default_factory=dict)
    app_seconds: dict[str, deque[float]] = field(default_factory=dict)
    app_batches: dict[str, deque[float]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    """Requests answered 429, by the limit that refused them (admin API, benchmarks)."""

    @property
    def in_flight(self) -> int:
        return sum(self.app_in_flight.values())

    def admit(self, now: float, *, batch: bool, app: str = "") -> bool:
        if not self.config.enabled:
            self.app_in_flight[app] = self.app_in_flight.get(app, 0) + 1
            return True
        config = self.config
        recent = _trim(self.recent, now, MINUTE)
        second = _trim(self.app_seconds.setdefault(app, deque()), now, SECOND)
        over: str | None = None
        if self.app_in_flight.get(app, 0) >= config.max_in_flight:
            over = "max_in_flight"
        elif config.per_second and len(second) >= config.per_second:
            over = "per_second"
        elif len(recent) >= config.per_minute:
            over = "per_minute"
        if batch and over is None:
            realm_batches = _trim(self.batches, now, MINUTE)
            app_batches = _trim(self.app_batches.setdefault(app, deque()), now, MINUTE)
            if len(app_batches) >= config.batch_per_minute:
                over = "batch_per_minute"
            elif len(realm_batches) >= config.realm_batch_per_minute:
                over = "realm_batch_per_minute"
            else:
                app_batches.append(now)
                realm_batches.append(now)
        if over is not None:
            self.refused[over] += 1
            return False
        recent.append(now)
        second.append(now)
        self.app_in_flight[app] = self.app_in_flight.get(app, 0) + 1
        return True

    def release(self, app: str = "") -> None:
        self.app_in_flight[app] = max(0, self.app_in_flight.get(app, 0) - 1)
