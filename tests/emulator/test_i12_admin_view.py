"""Issue 12: the emulator's read-only HTML view of one object (where the console links a
document synced to the emulator)."""

from __future__ import annotations

from tests.emulator.conftest import Qbo


async def test_i12_admin_view_shows_one_object_escaped(qbo: Qbo) -> None:
    customer = await qbo.customer("Fern & <Co>")
    response = await qbo.client.get(f"/admin/companies/{qbo.realm}/view/Customer/{customer['Id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Fern &amp; &lt;Co&gt;" in response.text
    assert "<Co>" not in response.text
    assert f"Customer {customer['Id']}" in response.text


async def test_i12_admin_view_unknown_object_is_404_and_read_only(qbo: Qbo) -> None:
    missing = await qbo.client.get(f"/admin/companies/{qbo.realm}/view/Invoice/999999")
    assert missing.status_code == 404
    unknown_realm = await qbo.client.get("/admin/companies/nope/view/Invoice/1")
    assert unknown_realm.status_code == 404
    customer = await qbo.customer("Read Only")
    posted = await qbo.client.post(f"/admin/companies/{qbo.realm}/view/Customer/{customer['Id']}")
    assert posted.status_code == 405
