"""The operations page against the stack's real Prometheus, in Debian's Chromium: a real worker
(serving the pages, announced to Prometheus by its target file) and an edge's metrics (served as
``alpr edge`` serves them, its camera reading plates) are scraped; an admin signs in, follows
the header's Operations link and sees the camera's reads charted, the worker's target up and
the alerts section. Screenshots at a desktop's 1280x900 and a phone's 390x844 (in
``$ALPR_SCREENSHOTS`` if set, as the console walkthrough's).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from config.settings import Settings
from edge.metrics import EdgeMetrics
from edge.worker import serve_metrics
from ops import scrape_targets
from ops.layout import Layout
from ops.monitoring import targets_dir
from ops.worker import free_port
from tests.integration.conftest import require_port
from tests.integration.test_prometheus import scraped_up, series, wait_for
from tests.integration.test_web_browser import CHROMIUM, FLAGS
from tests.web import stack as ws
from tests.web.stack import WebStack

SCREENS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    require_port(Layout().url("prometheus"), "Prometheus")
    tmp = tmp_path_factory.mktemp("operations-page")
    override = {"ALPR_WEB__PROMETHEUS_URL": Layout().url("prometheus")}
    stack = asyncio.run(ws.start(settings, tmp, "auto", 1000, 1000, override))
    yield stack
    asyncio.run(ws.stop(stack))


@pytest.fixture(scope="module")
def camera(web: WebStack) -> Iterator[str]:
    """An edge's metrics, announced as an edge target, its camera reading a plate a second."""
    name = f"cam-{web.unique}"
    metrics = EdgeMetrics()
    metrics.up.labels(name).set(1)
    metrics.fps.labels(name).set(10)
    stop = threading.Event()

    def read_plates() -> None:  # ten frames a second, a plate in every tenth
        frame = 0
        while not stop.wait(0.1):
            frame += 1
            metrics.frames.labels(name).inc()
            metrics.stage.labels(name, "detect").observe(0.02)
            if frame % 10 == 0:
                metrics.events.labels(name).inc()

    port = free_port()
    server = serve_metrics(metrics, port)
    target = scrape_targets.announce(targets_dir(Layout()), "alpr-edge", port)
    reader = threading.Thread(target=read_plates, daemon=True)
    reader.start()
    try:
        wait_for("the edge target up", lambda: scraped_up(f"127.0.0.1:{port}"))
        yield name
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        scrape_targets.withdraw(target)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[dict[str, Page]]:
    """A desktop and a phone page in one Chromium."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            pages = {}
            for screen, (width, height, mobile) in SCREENS.items():
                context = chromium.new_context(
                    viewport={"width": width, "height": height}, is_mobile=mobile,
                    has_touch=mobile, device_scale_factor=2 if mobile else 1,
                )  # fmt: skip
                pages[screen] = context.new_page()
            yield pages
        finally:
            chromium.close()


def sign_in_as_admin(page: Page, web: WebStack) -> None:
    page.goto(f"{web.url}/signin")
    page.fill("#key", web.keys["admin"])
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{web.url}/")
    page.click("header a[href='/operations']")
    page.wait_for_url("**/operations")


def test_an_admin_sees_reads_targets_and_alerts_from_prometheus(
    web: WebStack, camera: str, browser: dict[str, Page], tmp_path: Path
) -> None:
    worker = web.url.removeprefix("http://")
    wait_for("the page's worker up in Prometheus", lambda: scraped_up(worker))
    wait_for(
        "the camera's reads per second recorded",
        lambda: series(f'camera:alpr_edge_events:rate5m{{camera="{camera}"}} > 0'),
        120,
    )
    for screen, page in browser.items():
        sign_in_as_admin(page, web)
        reads = page.locator("#chart-reads")
        assert reads.locator("svg.chart polyline").count() >= 1, page.content()
        assert camera in reads.locator("figcaption").inner_text()
        assert page.locator("#chart-lag").count() == 1
        assert page.locator("#alerts h2").inner_text() == "Alerts"
        targets = page.locator("#targets").inner_text()
        assert worker in targets and "alpr-worker" in targets
        assert camera in page.locator("#camera-health").inner_text()
        assert page.locator("#unavailable").count() == 0
        folder = Path(os.environ.get("ALPR_SCREENSHOTS") or tmp_path)  # as the walkthrough
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"operations-{screen}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


def test_only_admins_open_the_operations_page(web: WebStack) -> None:
    assert web.call("GET", "/operations", None).headers["Location"].startswith("/signin")
    assert web.call("GET", "/operations", "viewer").status_code == 403
    assert web.call("GET", "/operations", "operator").status_code == 403
    assert web.call("GET", "/operations?range=2y", "admin").status_code == 400
    answer = web.call("GET", "/operations?range=15m", "admin")
    assert answer.status_code == 200 and 'id="charts"' in answer.text
    assert "script-src 'none'" in answer.headers["Content-Security-Policy"]


def test_the_page_says_so_when_prometheus_does_not_answer(
    settings: Settings, tmp_path: Path
) -> None:
    """A worker pointed at an address where nothing listens: a 503 page in words, no 500."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    override = {"ALPR_WEB__PROMETHEUS_URL": nowhere}
    stack = asyncio.run(ws.start(settings, tmp_path, "auto", 1000, 1000, override))
    try:
        answer = stack.call("GET", "/operations", "admin")
        assert answer.status_code == 503, answer.text
        assert "Prometheus is not answering" in answer.text and nowhere in answer.text
        assert 'href="/operations"' in answer.text and "Traceback" not in answer.text
    finally:
        asyncio.run(ws.stop(stack))
