"""Customer -> QBO Customer (reference §4 Customer): create and sparse-update bodies.

DisplayName is the customer's name; it must be unique across QBO customers, vendors and
employees (6240): when a vendor or employee holds it, the stable suffixed name of
`mapping.names` is used. The customer's marker goes into `Notes` so a customer we created can be
recognised later (after a timeout, or before reusing a same-named QBO customer).
"""

from __future__ import annotations

from rentsync.domain.documents import Customer, DocumentType
from rentsync.mapping.common import Payload, source_marker, sparse_update
from rentsync.mapping.names import contact_fields, present


def customer_marker(company_id: int, customer_id: str) -> str:
    return source_marker(company_id, DocumentType.CUSTOMER.value, customer_id)


def customer_create(
    customer: Customer, *, company_id: int, customer_id: str, display_name: str | None = None
) -> Payload:
    """The body of `POST /customer` for a new customer; absent fields are left out."""
    payload: Payload = {"DisplayName": display_name or customer.name}
    payload.update(present(_optional_fields(customer)))
    payload["Notes"] = customer_marker(company_id, customer_id)
    return payload


def customer_update(
    customer: Customer,
    *,
    qbo_id: str,
    sync_token: str,
    previous: Customer | None = None,
    display_name: str | None = None,
) -> Payload:
    """A sparse update with the fields that changed since `previous` (the snapshot last written).

    Without `previous` every field is sent. A field removed in the rental system is cleared
    (sent empty), since a sparse update leaves omitted fields as they are. `Notes` (our marker,
    perhaps extended by the user in QBO) is never touched.
    """
    fields: Payload = {"DisplayName": display_name or customer.name, **_optional_fields(customer)}
    if previous is not None:
        before: Payload = {"DisplayName": previous.name, **_optional_fields(previous)}
        fields = {name: value for name, value in fields.items() if before[name] != value}
    return sparse_update(fields, qbo_id=qbo_id, sync_token=sync_token)


def _optional_fields(customer: Customer) -> Payload:
    return contact_fields(
        company_name=customer.company_name,
        email=customer.email,
        phone=customer.phone,
        address=customer.billing_address,
    )
