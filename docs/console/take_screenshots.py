"""Screenshots of the web console's screens from the demo's data (docs/console/*.png).

Runs `rentsync demo` (its own embedded PostgreSQL under a temporary directory, the emulator on
free ports), signs in as the first demo company's owner in Debian's chromium (Playwright) and
saves one PNG per screen next to this file. Run from the repository root:

    .venv/bin/python docs/console/take_screenshots.py [NAME ...]

With names (e.g. `bulk-sync`), only those screenshots are written again.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1200, "height": 860}
SIGN_IN = re.compile(r"(\S+@\S+)\s+password\s+(\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_demo(data_dir: str, port: int) -> tuple[subprocess.Popen[str], list[tuple[str, str]]]:
    """The demo, once it serves: (process, each demo company's owner e-mail and password)."""
    env = {
        **os.environ,
        "RENTSYNC_DATA_DIR": data_dir,
        "RENTSYNC_PORT": str(port),
        "RENTSYNC_DEMO_EMULATOR_PORT": str(_free_port()),
        "COLUMNS": "200",
    }
    demo = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [str(Path(sys.executable).parent / "rentsync"), "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    sign_ins: list[tuple[str, str]] = []
    for line in demo.stdout:
        found = SIGN_IN.search(line)
        if found:
            sign_ins.append((found.group(1), found.group(2)))
        if line.startswith("Serving"):
            break
    if len(sign_ins) < 2:
        demo.kill()
        raise SystemExit("the demo did not print its companies' console sign-ins")
    return demo, sign_ins


ONLY: set[str] = set()
"""The screenshots to take (from the command line); empty: all of them."""


async def _shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    if ONLY and name not in ONLY:
        return
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(HERE / f"{name}.png"), full_page=full_page)
    sys.stdout.write(f"docs/console/{name}.png\n")


async def _signed_in(browser: Browser, url: str, email: str, password: str) -> Page:
    context = await browser.new_context(base_url=url, viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto("/signin")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


async def _screens(url: str, sign_ins: list[tuple[str, str]]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else []
        )
        page = await _signed_in(browser, url, *sign_ins[0])
        context = page.context
        await page.goto("/")
        await _shoot(page, "dashboard", full_page=True)
        await page.goto("/documents")
        await _shoot(page, "documents")
        await page.goto("/messages")
        await _shoot(page, "system-messages")
        # The second demo company's invoice whose tax QuickBooks computed differently (B2).
        other = await _signed_in(browser, url, *sign_ins[1])
        await other.goto("/documents?code=invoice_tax_mismatch")
        await other.locator("#documents tbody a").first.click()
        await expect(other.locator("#read-back")).to_be_visible()
        await _shoot(other, "document-failed", full_page=True)
        await page.goto("/quickbooks/logs?outcome=failed")
        await _shoot(page, "quickbooks-logs")
        # A bulk sync of everything: its preview, then the run until it is done.
        await page.goto("/bulk-syncs/new")
        await page.get_by_role("button", name="Preview").click()
        state = page.locator("#bulk-state")
        await expect(state).to_have_text("Previewed: waiting for Start", timeout=60_000)
        await _shoot(page, "bulk-sync-preview")
        await page.get_by_role("button", name="Start: send these orders to QuickBooks").click()
        await expect(state).to_have_text("Done", timeout=300_000)
        await page.goto(f"{page.url.split('?')[0]}?planned=create")
        await _shoot(page, "bulk-sync-done", full_page=True)
        phone = await browser.new_context(
            base_url=url,
            viewport={"width": 390, "height": 844},
            storage_state=await context.storage_state(),
        )
        await (phone_page := await phone.new_page()).goto("/")
        await _shoot(phone_page, "dashboard-phone")
        await browser.close()


def main() -> None:
    ONLY.update(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="rentsync-shots-") as data_dir:
        port = _free_port()
        demo, sign_ins = _start_demo(data_dir, port)
        try:
            asyncio.run(_screens(f"http://127.0.0.1:{port}", sign_ins))
        finally:
            demo.terminate()
            demo.wait(timeout=60)


if __name__ == "__main__":
    main()
