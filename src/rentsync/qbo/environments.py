"""Where QuickBooks is: the emulator, Intuit's sandbox, or production.

The OAuth endpoints always come from the environment's discovery document (Intuit asks apps not
to hard-code them); the emulator serves one too. API hosts are fixed per environment.
"""

from __future__ import annotations

from dataclasses import dataclass

SANDBOX_DISCOVERY = "https://developer.intuit.com/.well-known/openid_sandbox_configuration"
PRODUCTION_DISCOVERY = "https://developer.intuit.com/.well-known/openid_configuration"
SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com"
PRODUCTION_API = "https://quickbooks.api.intuit.com"


@dataclass(frozen=True, kw_only=True)
class Environment:
    name: str
    api_base_url: str
    discovery_url: str


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    authorization: str
    token: str
    revocation: str


def environment(name: str, *, emulator_url: str = "") -> Environment:
    if name == "emulator":
        if not emulator_url:
            raise ValueError("the emulator environment needs its base URL")
        base = emulator_url.rstrip("/")
        return Environment(
            name=name,
            api_base_url=base,
            discovery_url=f"{base}/.well-known/openid_configuration",
        )
    if name == "sandbox":
        return Environment(name=name, api_base_url=SANDBOX_API, discovery_url=SANDBOX_DISCOVERY)
    if name == "production":
        return Environment(
            name=name, api_base_url=PRODUCTION_API, discovery_url=PRODUCTION_DISCOVERY
        )
    raise ValueError(f"unknown QuickBooks environment {name!r}")


def endpoints_from(document: dict[str, object]) -> Endpoints:
    """The three endpoints rentsync uses, from a discovery document."""
    try:
        return Endpoints(
            authorization=str(document["authorization_endpoint"]),
            token=str(document["token_endpoint"]),
            revocation=str(document["revocation_endpoint"]),
        )
    except KeyError as exc:
        raise ValueError(f"the discovery document lacks {exc.args[0]}") from None
