"""The emulator's whole state, created by the app factory (no module-level state)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qbo_emulator import choices, presets
from qbo_emulator.books import Company
from qbo_emulator.limits import Limiter, LimitsConfig
from qbo_emulator.oauth import OAuthApp, OAuthState
from qbo_emulator.scenarios import FaultPlan


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Config:
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    token_ttl: int = 3600
    auto_approve: bool = False
    # Age at which a refresh token value rotates (QBO: about a day); tests may shorten it.
    refresh_rotation_seconds: float = choices.REFRESH_TOKEN_ROTATION_SECONDS
    # How long one consent lasts before reconnecting is needed (QBO: five years).
    refresh_hard_lifetime_seconds: float = choices.REFRESH_TOKEN_HARD_LIFETIME_SECONDS
    state_file: str | None = None
    apps: tuple[OAuthApp, ...] = ()
    companies: tuple[presets.Preset, ...] = ()
    clock: Callable[[], datetime] = _utcnow
    monotonic: Callable[[], float] = time.monotonic


@dataclass
class Emulator:
    config: Config
    companies: dict[str, Company] = field(default_factory=dict)
    limiters: dict[str, Limiter] = field(default_factory=dict)
    plans: dict[str, FaultPlan] = field(default_factory=dict)
    oauth: OAuthState = field(default_factory=OAuthState)
    tids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.oauth.token_ttl = self.config.token_ttl
        self.oauth.auto_approve = self.config.auto_approve
        self.oauth.refresh_rotation_seconds = self.config.refresh_rotation_seconds
        self.oauth.refresh_hard_lifetime_seconds = self.config.refresh_hard_lifetime_seconds
        for app in self.config.apps:
            self.oauth.apps[app.client_id] = app
        for preset in self.config.companies:
            self.add_company(preset)

    def now(self) -> datetime:
        return self.config.clock()

    def add_company(self, preset: presets.Preset) -> Company:
        company = presets.build_company(preset, self.now())
        self.companies[company.realm_id] = company
        self.limiters[company.realm_id] = Limiter(self.config.limits)
        self.plans[company.realm_id] = FaultPlan()
        return company

    def reset(self) -> None:
        self.companies.clear()
        self.limiters.clear()
        self.plans.clear()
        self.oauth.reset()

    def next_tid(self) -> str:
        return f"1-{next(self.tids):08x}-emu"
