"""Customer -> QBO Customer (reference §4 Customer): create and sparse-update bodies.

DisplayName is the customer's name; it must be unique across QBO customers, vendors and
employees (6240), which the reconciler handles. The customer's marker goes into `Notes` so a
customer we created can be recognised later (after a timeout, or before reusing a same-named
QBO customer).
"""

from __future__ import annotations

from rentsync.domain.documents import Address, Customer, DocumentType
from rentsync.mapping.common import Payload, source_marker, sparse_update

_EMPTY: Payload = {
    "CompanyName": "",
    "PrimaryEmailAddr": {"Address": ""},
    "PrimaryPhone": {"FreeFormNumber": ""},
    "BillAddr": {
        "Line1": "",
        "Line2": "",
        "City": "",
        "CountrySubDivisionCode": "",
        "PostalCode": "",
        "Country": "",
    },
}
"""What clears each optional field in a sparse update: omitting a field leaves it unchanged."""


def customer_marker(company_id: int, customer_id: str) -> str:
    return source_marker(company_id, DocumentType.CUSTOMER.value, customer_id)


def customer_create(customer: Customer, *, company_id: int, customer_id: str) -> Payload:
    """The body of `POST /customer` for a new customer; absent fields are left out."""
    payload: Payload = {"DisplayName": customer.name}
    for name, value in _optional_fields(customer).items():
        present = _without_blanks(value)
        if present:
            payload[name] = present
    payload["Notes"] = customer_marker(company_id, customer_id)
    return payload


def customer_update(
    customer: Customer,
    *,
    qbo_id: str,
    sync_token: str,
    previous: Customer | None = None,
) -> Payload:
    """A sparse update with the fields that changed since `previous` (the snapshot last written).

    Without `previous` every field is sent. A field removed in the rental system is cleared
    (sent empty), since a sparse update leaves omitted fields as they are. `Notes` (our marker,
    perhaps extended by the user in QBO) is never touched.
    """
    fields: Payload = {"DisplayName": customer.name, **_optional_fields(customer)}
    if previous is not None:
        before: Payload = {"DisplayName": previous.name, **_optional_fields(previous)}
        fields = {name: value for name, value in fields.items() if before[name] != value}
    return sparse_update(fields, qbo_id=qbo_id, sync_token=sync_token)


def _without_blanks(value: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(value, dict):
        return {key: part for key, part in value.items() if part}
    return value


def _optional_fields(customer: Customer) -> Payload:
    address = customer.billing_address
    return {
        "CompanyName": customer.company_name or "",
        "PrimaryEmailAddr": {"Address": customer.email or ""},
        "PrimaryPhone": {"FreeFormNumber": customer.phone or ""},
        "BillAddr": _address(address) if address is not None else _EMPTY["BillAddr"],
    }


def _address(address: Address) -> dict[str, str]:
    return {
        "Line1": address.line1 or "",
        "Line2": address.line2 or "",
        "City": address.city or "",
        "CountrySubDivisionCode": address.region or "",
        "PostalCode": address.postal_code or "",
        "Country": address.country or "",
    }
