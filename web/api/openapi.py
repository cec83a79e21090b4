"""``GET /api/openapi.json``: the API's OpenAPI 3 document (``web/openapi.yaml``) as JSON."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml
from faust.web import Request, Response

from alpr import app
from web.api.base import ApiView


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The committed OpenAPI document, parsed once."""
    text = files("web").joinpath("openapi.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@app.page("/api/openapi.json")
class OpenApi(ApiView):
    """The document needs no key: it describes the API, it holds no data."""

    async def get(self, request: Request) -> Response:
        return self.json(document())
