"""Vendor -> QBO Vendor (reference §4 Vendor): create and sparse-update bodies.

The same DisplayName rule as customers (`mapping.names`: one namespace with customers and
employees, 6240); the contact fields as customers'; `TaxIdentifier` (QBO masks it when read
back; rentsync's request log redacts it) and `Vendor1099`; the marker in `Notes`.
"""

from __future__ import annotations

from rentsync.domain.documents import DocumentType
from rentsync.domain.vendors import Vendor
from rentsync.mapping.common import Payload, source_marker, sparse_update
from rentsync.mapping.names import contact_fields, present


def vendor_marker(company_id: int, vendor_id: str) -> str:
    return source_marker(company_id, DocumentType.VENDOR.value, vendor_id)


def vendor_create(
    vendor: Vendor, *, company_id: int, vendor_id: str, display_name: str | None = None
) -> Payload:
    """The body of `POST /vendor`; absent fields are left out."""
    payload: Payload = {"DisplayName": display_name or vendor.name}
    payload.update(present(_fields(vendor)))
    payload["Vendor1099"] = vendor.is_1099
    if vendor.tax_id:
        payload["TaxIdentifier"] = vendor.tax_id
    payload["Notes"] = vendor_marker(company_id, vendor_id)
    return payload


def vendor_update(
    vendor: Vendor, *, qbo_id: str, sync_token: str, display_name: str | None = None
) -> Payload:
    """A sparse update of every field rentsync owns (removed ones sent empty). A tax id removed
    in the rental system is left in QBO: QBO does not clear it with an empty value."""
    fields: Payload = {
        "DisplayName": display_name or vendor.name,
        **_fields(vendor),
        "Vendor1099": vendor.is_1099,
    }
    if vendor.tax_id:
        fields["TaxIdentifier"] = vendor.tax_id
    return sparse_update(fields, qbo_id=qbo_id, sync_token=sync_token)


def _fields(vendor: Vendor) -> Payload:
    return contact_fields(
        company_name=vendor.company_name,
        email=vendor.email,
        phone=vendor.phone,
        address=vendor.address,
    )
