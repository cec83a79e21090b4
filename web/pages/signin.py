"""``/signin`` and ``/signout``: a key typed once becomes an HttpOnly cookie for the pages."""

from __future__ import annotations

from typing import Any, cast

from faust.web import Request, Response

from alpr import app
from web.auth.guard import COOKIE
from web.auth.keys import KeyStore
from web.pages.base import PageView, safe_next


@app.page("/signin")
class SignIn(PageView):
    """The sign-in form; posting a valid key sets the cookie and goes where the person was."""

    async def get(self, request: Request) -> Response:
        target = safe_next(request.query.get("next"))
        return self.page("signin.html", key=None, next=target, message=None)

    async def post(self, request: Request) -> Response:
        form = await cast(Any, request).post()
        target = safe_next(form.get("next"))
        key = str(form.get("key", "")).strip()
        stored = await KeyStore(await self.state.pool()).find(key) if key else None
        if stored is None or stored.revoked_at is not None:
            message = "That key is not valid. Check it, or ask an admin for a new one."
            return self.page("signin.html", key=None, status=401, next=target, message=message)
        response = self.redirect(target)
        settings = self.state.settings.web
        cast(Any, response).set_cookie(
            COOKIE, key, max_age=int(settings.session_hours * 3600), httponly=True,
            samesite="Strict", secure=settings.cookie_secure, path="/",
        )  # fmt: skip
        return response


@app.page("/signout")
class SignOut(PageView):
    """Forgets the key cookie."""

    async def post(self, request: Request) -> Response:
        response = self.redirect("/signin")
        cast(Any, response).del_cookie(COOKIE, path="/")
        return response


@app.page("/")
class Home(PageView):
    async def get(self, request: Request) -> Response:
        return self.redirect("/search")
