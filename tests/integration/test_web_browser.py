"""The pages in Debian's headless Chromium, driven by Playwright, on a phone-sized screen:
sign in with a key, search a plate, see the hit, open the plate page and see its crop loaded
from the real object in S3. A screenshot of each step goes to the test's output directory.

Chromium comes from apt (``make browser``); Playwright only drives it (never
``playwright install``, which downloads its own browsers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from config.settings import Settings
from tests.web import stack as ws
from tests.web.stack import PLATE, WebStack

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("web-browser")
    stack = asyncio.run(ws.start(settings, tmp, "auto", rate=1000, burst=1000))
    yield stack
    asyncio.run(ws.stop(stack))


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=FLAGS,
            headless=True, viewport={"width": 390, "height": 844}, device_scale_factor=2,
            is_mobile=True, has_touch=True,
        )  # fmt: skip
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def loaded(page: Page, selector: str) -> bool:
    """Whether the first image matching ``selector`` finished loading real pixels."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector
    )
    return bool(page.eval_on_selector(selector, "i => i.naturalWidth > 0 && i.naturalHeight > 0"))


def test_sign_in_search_a_plate_and_see_its_crop(web: WebStack, page: Page, tmp_path: Path) -> None:
    page.goto(f"{web.url}/search")
    assert "/signin" in page.url  # no key yet: the sign-in form
    page.fill("#key", "alpr_000000000000_" + "x" * 43)
    page.click("#signin button[type=submit]")
    assert page.locator(".error").inner_text().startswith("That key is not valid")
    page.fill("#key", web.keys["viewer"])
    page.click("#signin button[type=submit]")
    page.wait_for_url("**/search")

    page.fill("#q", PLATE.lower())
    page.fill("#reason", "browser test case 12")
    page.click("#search button[type=submit]")
    hit = page.locator(f"#hits a.plate:text-is('{PLATE}')")
    hit.wait_for()
    assert "exact" in page.locator("#hits tbody tr").first.inner_text()
    assert loaded(page, "#hits img.thumb"), "the hit's crop did not load from S3"
    shot(page, tmp_path, "1-search")

    hit.click()
    page.wait_for_url(f"**/plates/{PLATE}**")
    assert page.locator("#plate").inner_text() == PLATE
    assert page.locator(".timeline li").count() == 12
    assert loaded(page, "img.crop"), "the plate crop did not load from S3"
    shot(page, tmp_path, "2-plate")


def test_pages_explain_problems_in_words(web: WebStack, page: Page, tmp_path: Path) -> None:
    page.goto(f"{web.url}/signin")
    page.fill("#key", web.keys["viewer"])
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{web.url}/")  # home: a viewer gives a reason to see reads
    assert "reason is required" in page.locator(".error").inner_text()
    assert page.locator("#camera-reads tbody tr").count() >= 2  # reads per camera, no reason
    response = page.goto(f"{web.url}/plates/%24%24")
    assert response is not None and response.status == 400
    text = page.locator("main").inner_text()
    assert "characters outside A-Z" in text and "Traceback" not in text
    page.goto(f"{web.url}/plates/{PLATE}")  # a viewer without a reason is asked for one
    assert "reason is required" in page.locator(".error").inner_text()
    response = page.goto(f"{web.url}/cameras")
    assert response is not None and response.status == 200
    assert page.locator("svg.chart polyline").count() >= 1
    shot(page, tmp_path, "3-cameras")
    forbidden = page.request.post(f"{web.url}/alerts/x/ack", form={"note": "n"})
    assert forbidden.status == 403 and "operator" in forbidden.text()


def test_an_operator_acknowledges_an_alert_on_the_alerts_page(
    web: WebStack, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{web.url}/signin?next=%2Falerts%3Fopen%3D1")
    page.fill("#key", web.keys["operator"])
    page.click("#signin button[type=submit]")
    page.wait_for_url("**/alerts?open=1")
    acknowledge = "#alerts form[action$='/ack'] button"  # each row also has "Assign to me"
    buttons = page.locator(acknowledge)
    before = buttons.count()
    assert before >= 1
    page.locator("#alerts form input[name=note]").first.fill("patrol sent")
    buttons.first.click()
    page.wait_for_url("**/alerts#*")
    assert "acknowledged by test operator" in page.locator("#alerts").inner_text()
    assert "patrol sent" in page.locator("#alerts").inner_text()
    page.goto(f"{web.url}/alerts?open=1")
    assert page.locator(acknowledge).count() == before - 1
    shot(page, tmp_path, "4-alerts")
