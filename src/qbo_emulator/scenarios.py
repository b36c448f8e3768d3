"""Fault injection per company: seeded, deterministic, set through the admin API.

Every API request draws from one `random.Random(seed)` in arrival order, so the same seed and the
same request sequence give the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

KINDS = ("error", "drop", "throttle", "locked")


@dataclass
class Decision:
    latency_s: float = 0.0
    error: bool = False
    throttle: bool = False
    drop_after_commit: bool = False
    locked: bool = False


@dataclass
class FaultPlan:
    seed: int = 0
    latency: dict[str, Any] = field(default_factory=dict)
    error_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    locked_rate: float = 0.0
    locked_objects: set[tuple[str, str]] = field(default_factory=set)
    throttle_every: int = 0  # every Nth request starts a burst...
    throttle_burst: int = 0  # ...of this many 429s
    queued: list[str] = field(default_factory=list)  # one-shot faults for the next requests
    rng: random.Random = field(default_factory=random.Random)
    requests: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultPlan:
        throttle = body.get("throttle") or {}
        queued = [str(kind) for kind in body.get("next", [])]
        unknown = [kind for kind in queued if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; use {KINDS}")
        plan = cls(
            seed=int(body.get("seed", 0)),
            latency=dict(body.get("latency") or {}),
            error_rate=float(body.get("error_rate", 0.0)),
            drop_after_commit_rate=float(body.get("drop_after_commit_rate", 0.0)),
            locked_rate=float(body.get("locked_rate", 0.0)),
            locked_objects={(str(o["entity"]), str(o["id"])) for o in body.get("locked", [])},
            throttle_every=int(throttle.get("every", 0)),
            throttle_burst=int(throttle.get("burst", 0)),
            queued=queued,
        )
        plan.rng = random.Random(plan.seed)  # noqa: S311 - deterministic test faults, not crypto
        return plan

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "latency": self.latency,
            "error_rate": self.error_rate,
            "drop_after_commit_rate": self.drop_after_commit_rate,
            "locked_rate": self.locked_rate,
            "locked": [{"entity": e, "id": i} for e, i in sorted(self.locked_objects)],
            "throttle": {"every": self.throttle_every, "burst": self.throttle_burst},
            "next": list(self.queued),
            "requests_seen": self.requests,
        }

    def decide(self) -> Decision:
        self.requests += 1
        decision = Decision(latency_s=self._latency())
        if self.queued:
            kind = self.queued.pop(0)
            setattr(decision, {"error": "error", "drop": "drop_after_commit"}.get(kind, kind), True)
            return decision
        if self.throttle_every and self.throttle_burst:
            position = (self.requests - 1) % self.throttle_every
            decision.throttle = position >= self.throttle_every - self.throttle_burst
        decision.error = self.rng.random() < self.error_rate
        decision.drop_after_commit = self.rng.random() < self.drop_after_commit_rate
        decision.locked = self.rng.random() < self.locked_rate
        return decision

    def _latency(self) -> float:
        kind = self.latency.get("distribution", "none")
        if kind == "fixed":
            return float(self.latency.get("ms", 0)) / 1000
        if kind == "uniform":
            low, high = float(self.latency.get("min_ms", 0)), float(self.latency.get("max_ms", 0))
            return self.rng.uniform(low, high) / 1000
        if kind == "exponential":
            return self.rng.expovariate(1000 / max(float(self.latency.get("mean_ms", 1)), 1e-3))
        return 0.0
