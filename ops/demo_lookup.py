"""The last step of ``make demo``: the reads found again through the lookup API and pages.

Makes a demo admin key (only its hash is stored; an existing demo key is revoked first so one
demo leaves one live key), searches the first read's plate through ``GET /api/plates/search``
of the running worker, and returns what a newcomer needs to open the pages.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import asyncpg

from web.auth.keys import KeyStore

DEMO_OWNER = "make-demo"


async def demo_key(dsn: str) -> str:
    """A fresh admin key owned by the demo; earlier demo keys are revoked."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        store = KeyStore(conn)
        for old in await store.list():
            if old.owner == DEMO_OWNER and old.active:
                await store.revoke(old.key_id)
        _, key = await store.create("admin", DEMO_OWNER)
        return key
    finally:
        await conn.close()


def search(web_url: str, key: str, plate: str) -> list[dict[str, Any]]:
    """The hits of ``plate`` from the worker's search API (audited with the reason 'demo')."""
    query = urllib.parse.urlencode({"q": plate, "reason": "make demo", "limit": 5})
    request = urllib.request.Request(
        f"{web_url}/api/plates/search?{query}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    hits: list[dict[str, Any]] = body["items"]
    return hits
