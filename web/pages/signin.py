"""``/signin`` and ``/signout``: a key typed once opens a server-side session for the pages.

The key never leaves the sign-in request: the cookie holds a random session id
(``web.auth.sessions``), which sign-out revokes on the server. The cookie is HttpOnly,
SameSite=Strict, and Secure when the request came over HTTPS or ``web.cookie_secure`` says so.
Failed sign-ins are logged and slowed down per address (``web.auth.failures``).
"""

from __future__ import annotations

from typing import Any, cast

from faust.web import Request, Response

from alpr import app
from web.auth import failures
from web.auth.guard import authenticate, same_origin
from web.auth.keys import KeyStore
from web.auth.sessions import COOKIE, SessionKey, SessionStore, cookie_secure
from web.errors import ApiError
from web.pages.base import PageView, safe_next


@app.page("/signin")
class SignIn(PageView):
    """The sign-in form; posting a valid key opens a session and goes where the person was."""

    async def get(self, request: Request) -> Response:
        target = safe_next(request.query.get("next"))
        return self.page("signin.html", key=None, next=target, message=None)

    async def post(self, request: Request) -> Response:
        form = await cast(Any, request).post()
        target = safe_next(form.get("next"))
        claimed = request.headers.get("Origin") or request.headers.get("Referer")
        if claimed and not same_origin(request):  # another site signing you in as its key
            message = "That sign-in did not come from this site's form."
            return self.page("signin.html", key=None, status=403, next=target, message=message)
        try:
            await failures.check_wait(self.state, request)
        except ApiError as exc:
            return self._waiting(target, exc)
        key = str(form.get("key", "")).strip()
        stored = await KeyStore(await self.state.pool()).find(key) if key else None
        if stored is None or stored.revoked_at is not None:
            await failures.record(self.state, request, "signin", stored.key_id if stored else None)
            message = "That key is not valid. Check it, or ask an admin for a new one."
            return self.page("signin.html", key=None, status=401, next=target, message=message)
        settings = self.state.settings.web
        session_id = await SessionStore(await self.state.pool(), settings).open(stored)
        response = self.redirect(target)
        cast(Any, response).set_cookie(
            COOKIE, session_id, max_age=int(settings.session_hours * 3600), httponly=True,
            samesite="Strict", secure=cookie_secure(settings, request), path="/",
        )  # fmt: skip
        return response

    def _waiting(self, target: str, exc: ApiError) -> Response:
        response = self.page("signin.html", key=None, status=429, next=target, message=exc.message)
        response.headers.update(exc.headers)
        return response


@app.page("/signout")
class SignOut(PageView):
    """Ends the session on the server (from this site's own form only) and forgets the cookie."""

    async def post(self, request: Request) -> Response:
        try:
            key = await authenticate(request, self.state, "viewer", limited=False)
        except ApiError as exc:
            if exc.status != 401:
                raise
        else:
            if isinstance(key, SessionKey):
                await SessionStore(await self.state.pool(), self.state.settings.web).revoke(
                    key.session_hash
                )
        response = self.redirect("/signin")
        cast(Any, response).del_cookie(COOKIE, path="/")
        return response
