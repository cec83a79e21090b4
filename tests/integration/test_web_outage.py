"""A store that does not answer makes the API say 503 with a message (and the pages say so in
words), never a 500 or a hang: a worker is pointed at an address where nothing listens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from config.settings import Settings
from ops.worker import free_port
from tests.web import stack as ws
from tests.web.stack import PLATE, WebStack

#: The store each worker is cut off from, and the settings that do it.
OUTAGES = {
    "elasticsearch": lambda port: {"ALPR_ELASTICSEARCH__URL": f"http://127.0.0.1:{port}"},
    "postgresql": lambda port: {"ALPR_POSTGRES__DSN": f"postgresql://alpr:alpr@127.0.0.1:{port}/x"},
}


@pytest.fixture(scope="module", params=sorted(OUTAGES))
def down(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, WebStack]]:
    tmp = tmp_path_factory.mktemp(f"web-outage-{request.param}")
    override = OUTAGES[request.param](free_port())
    stack = asyncio.run(
        ws.start(settings, tmp, "elasticsearch", rate=1000, burst=1000, override=override)
    )
    yield request.param, stack
    asyncio.run(ws.stop(stack))


def test_lookups_answer_503_with_a_message_while_a_store_is_down(
    down: tuple[str, WebStack],
) -> None:
    store, web = down
    paths = [f"/api/plates/search?q={PLATE}", f"/api/plates/{PLATE}", "/api/events"]
    if store == "postgresql":
        paths += ["/api/alerts", "/api/cameras", "/api/audit"]  # keys are checked there too
    for path in paths:
        response = web.call("GET", path, "admin")
        assert response.status_code == 503, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "store_unavailable" and "try again" in error["message"]
        assert response.headers["Retry-After"]
    assert web.call("GET", "/api/openapi.json", None).status_code == 200
    assert web.call("GET", "/health", None).status_code == 200


def test_pages_say_a_store_is_down_in_words(down: tuple[str, WebStack]) -> None:
    import requests

    store, web = down
    browser = requests.Session()
    if store == "postgresql":  # checking any session cookie needs PostgreSQL
        browser.cookies.set("alpr_session", "s" * 43)
    else:
        signed_in = browser.post(f"{web.url}/signin", data={"key": web.keys["admin"]}, timeout=30)
        assert signed_in.status_code == 200, signed_in.text
    page = browser.get(f"{web.url}/search?q={PLATE}", timeout=30)
    assert page.status_code == 503
    assert "not answering right now" in page.text and "Traceback" not in page.text
