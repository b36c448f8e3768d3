"""What customers and vendors share in QBO (reference §4 Customer, Vendor): one DisplayName
namespace across customers, vendors and employees (6240), and the contact fields.

The rule for a name another kind of record holds, in one place: a customer or vendor whose name
is taken in QBO by a record of another kind (a vendor that is also a customer, say) gets the
stable DisplayName `<name> (<kind>)`, e.g. "Ace Party Supply (vendor)"; the ledger keeps which
QBO record it is. A same-kind record rentsync did not create is never taken over (6240 with the
remedy): it may be the same business entered by hand, the bookkeeper's decision.
"""

from __future__ import annotations

from rentsync.domain.documents import Address
from rentsync.mapping.common import Payload

DISPLAY_NAME_MAX_LENGTH = 500


def suffixed_display_name(name: str, kind: str) -> str:
    """The DisplayName used when `name` is taken by a record of another kind."""
    suffix = f" ({kind})"
    return name[: DISPLAY_NAME_MAX_LENGTH - len(suffix)] + suffix


EMPTY_ADDRESS: dict[str, str] = {
    "Line1": "",
    "Line2": "",
    "City": "",
    "CountrySubDivisionCode": "",
    "PostalCode": "",
    "Country": "",
}


def contact_fields(
    *,
    company_name: str | None,
    email: str | None,
    phone: str | None,
    address: Address | None,
) -> Payload:
    """Every contact field, a missing one as its empty value: a sparse update leaves fields it
    omits as they are, so a field removed in the rental system is sent empty to clear it."""
    return {
        "CompanyName": company_name or "",
        "PrimaryEmailAddr": {"Address": email or ""},
        "PrimaryPhone": {"FreeFormNumber": phone or ""},
        "BillAddr": _address(address) if address is not None else dict(EMPTY_ADDRESS),
    }


def present(fields: Payload) -> Payload:
    """`fields` without the empty ones, for a create."""
    kept: Payload = {}
    for name, value in fields.items():
        value = {k: v for k, v in value.items() if v} if isinstance(value, dict) else value
        if value:
            kept[name] = value
    return kept


def _address(address: Address) -> dict[str, str]:
    return {
        "Line1": address.line1 or "",
        "Line2": address.line2 or "",
        "City": address.city or "",
        "CountrySubDivisionCode": address.region or "",
        "PostalCode": address.postal_code or "",
        "Country": address.country or "",
    }
