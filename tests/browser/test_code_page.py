"""Scan the QR from the card (zxing-cpp), open the link in headless Chromium, see the case."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import INVESTIGATORS, RED, cards, create_case, evaluate
from tests.conftest import Console


async def _login(page: Any, base: str, user: str) -> None:
    r = await page.request.post(f"{base}/console/api/login", data={"user": user})
    assert r.ok


async def test_scan_qr_and_open_code_page(console: Console, browser: Browser,
                                          request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    card = cards(await console.messages(f"dm:{inv}"))[0]["card"]
    png = await (await console.client.get(urlsplit(card["image"]).path)).read()
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    link = barcode.text
    assert link == card["actions"][0]["url"]
    assert code not in link  # nothing but the opaque token in the QR

    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 420, "height": 900})
    page = await context.new_page()
    await _login(page, base, inv)
    await page.goto(link)
    await expect(page.locator("#code")).to_have_text(code)
    await expect(page.locator("#badge")).to_contain_text("红码")
    await expect(page.locator("#score")).to_have_text("66")
    items = page.locator("#deductions .ded .item")
    await expect(items).to_have_count(3)
    await expect(items).to_have_text(["犯罪事实与行为", "危害后果", "因果关系"])
    await expect(page.locator("#deductions")).to_contain_text("嫌疑人零口供，痕迹物证灭失")
    await page.screenshot(path=str(screenshot_path(request, "code-page")), full_page=True)

    # one character changed in the token → the 403 page says so
    token = link.rsplit("/", 1)[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    resp = await page.goto(link.rsplit("/", 1)[0] + "/" + flipped)
    assert resp is not None and resp.status == 403
    await expect(page.locator("#error")).to_contain_text("链接无效或已过期")

    # an unrelated user's session gets 403
    other = await browser.new_context()
    other_page = await other.new_page()
    await _login(other_page, base, "p-investigator-5")
    resp = await other_page.goto(link)
    assert resp is not None and resp.status == 403
    await expect(other_page.locator("#error")).to_contain_text("无权查看")
    await context.close()
    await other.close()
