"""``/static/{name}``: the console's own script, served from this site (the pages' policy
lets script come from here only, never inline, never from elsewhere)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from faust.web import Request, Response

from alpr import app
from web.pages.base import PageView

#: The files served, with their types; nothing else under ``web/static`` is reachable.
FILES = {"console.js": "text/javascript"}


@lru_cache(maxsize=len(FILES))
def content(name: str) -> str:
    return files("web").joinpath("static", name).read_text(encoding="utf-8")


@app.page("/static/{name}")
class StaticFile(PageView):
    """A static file by name; 404 for any other name."""

    async def get(self, request: Request, name: str) -> Response:
        if name not in FILES:
            return self.failure(request, 404, "There is no such file.")
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return self.text(content(name), content_type=FILES[name], headers=headers)
