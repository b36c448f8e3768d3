"""B2 read-back verification and its remedy: QBO's figures differ from the source -> a failure
with both figures, never silence; the documented fix (Sync with QuickBooks, Resync) works."""

from __future__ import annotations

from decimal import Decimal

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import rig_for


async def test_b2_tax_mismatch_fails_with_both_figures_and_the_remedy_fixes_it(
    settings: Settings,
) -> None:
    # A company with automated sales tax (AST) that shows it switched off when rentsync connects.
    async with rig_for(settings, preset={"plan": "plus", "ast": True}) as rig:
        prefs = f"/admin/companies/{rig.realm}/preferences"
        off = await rig.qbo.patch(prefs, json={"TaxPrefs": {"PartnerTaxEnabled": False}})
        assert off.status_code == 200, off.text
        await rig.connect()
        await rig.map_accounts()
        rate = next(r for r in await rig.sync_tax_rates() if Decimal(str(r["rate_percent"])) > 0)
        # The bookkeeper switches AST on in QuickBooks; rentsync does not know yet.
        assert (
            await rig.qbo.patch(prefs, json={"TaxPrefs": {"PartnerTaxEnabled": True}})
        ).status_code == 200
        await rig.put("customers", "C-1", make.customer())
        await rig.put("products", "P-TENT", make.rental_product())
        tax = (Decimal("450.00") * Decimal(str(rate["rate_percent"])) / 100).quantize(
            Decimal("0.01")
        )
        await rig.put("orders", "O-1", make.order("4001", tax=str(tax), tax_rate_id=rate["id"]))
        failed = await rig.settled("orders", "O-1")
        assert failed["state"] == "failed", failed
        assert failed["error"]["code"] == "invoice_tax_mismatch"
        assert str(tax) in failed["error"]["detail"], "both figures are shown"
        assert "Sync with QuickBooks" in failed["error"]["remedy"]
        assert failed["qbo"] is not None, "the invoice QBO holds is remembered (no duplicate later)"
        # The remedy: Sync with QuickBooks under Tax Rates (re-reads AST), then Resync.
        await rig.sync_tax_rates()
        attempts = len(failed["history"])
        assert (
            await rig.api.post("/api/v1/orders/O-1/resync", headers=rig.headers)
        ).status_code == 202
        fixed = await rig.settled("orders", "O-1", attempts_after=attempts)
        assert fixed["state"] == "synced", fixed
        (invoice,) = await rig.qbo_entities("Invoice")
        assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == tax
