"""Links from a document to where a person sees it in QuickBooks (the console's deep links).

Against Intuit: the QBO web app, `https://app.qbo.intuit.com/app/<page>?txnId=<id>` (production)
or `https://app.sandbox.qbo.intuit.com/app/<page>?...` (sandbox). Against the emulator: its
read-only admin view of the object (`/admin/companies/<realm>/view/<Entity>/<id>`).

UNCONFIRMED: Intuit documents no deep-link scheme for the QBO web app. The page names below are
what the web app's own address bar shows, as other integrations' public code uses them
(`invoice`, `bill` with `txnId`; `customerdetail`, `vendordetail` with `nameId`); the others
(`recvpayment`, `refundreceipt`, `billpayment`, `purchaseorder`) follow the same pattern and
are our choice, not seen confirmed anywhere. QBO opens its home page for a page it does not
know, so a wrong guess costs a click, never a wrong document. Items have no page of their own.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

APP_HOSTS = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}

# QBO entity -> (page, id parameter).
PAGES: dict[str, tuple[str, str]] = {
    "Invoice": ("invoice", "txnId"),
    "Bill": ("bill", "txnId"),
    "Customer": ("customerdetail", "nameId"),
    "Vendor": ("vendordetail", "nameId"),
    "Payment": ("recvpayment", "txnId"),
    "RefundReceipt": ("refundreceipt", "txnId"),
    "BillPayment": ("billpayment", "txnId"),
    "PurchaseOrder": ("purchaseorder", "txnId"),
}


def document_url(
    environment: str,
    entity: str | None,
    qbo_id: str | None,
    *,
    realm_id: str | None = None,
    emulator_url: str = "",
) -> str | None:
    """Where to see `entity` `qbo_id` in QuickBooks; None when there is no such page (nothing
    in QBO yet, an item, an emulator company without its realm)."""
    if not entity or not qbo_id:
        return None
    if environment == "emulator":
        if not realm_id or not emulator_url:
            return None
        return (
            f"{emulator_url.rstrip('/')}/admin/companies/{quote(realm_id, safe='')}/view/"
            f"{quote(entity, safe='')}/{quote(qbo_id, safe='')}"
        )
    host = APP_HOSTS.get(environment)
    page = PAGES.get(entity)
    if host is None or page is None:
        return None
    name, parameter = page
    return f"{host}/app/{name}?{urlencode({parameter: qbo_id})}"
