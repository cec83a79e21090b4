"""A small client of the Confluent schema registry REST API (also served by Apicurio's
``/apis/ccompat/v7``): register, look up by id, compatibility.

It is synchronous on purpose: Faust codecs are called synchronously, and every call is made
once per schema and cached by the caller (``streams.codec``). Async code uses
``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Literal

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

Compatibility = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]


class RegistryError(Exception):
    """The registry answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def not_found(self) -> bool:
        """True when the subject, version or schema id does not exist (HTTP 404)."""
        return self.status == 404

    @property
    def unreachable(self) -> bool:
        """True when no HTTP answer came (connection refused, timeout)."""
        return self.status is None

    @property
    def transient(self) -> bool:
        """True when asking again may succeed: no answer came, or the registry failed
        (HTTP 5xx, e.g. while its store restarts); a 4xx is the request's own fault."""
        return self.status is None or self.status >= 500


class IncompatibleSchemaError(RegistryError):
    """The registry refused a schema that breaks the subject's compatibility rule."""


class SchemaRegistryClient:
    """Blocking client of one registry base URL (e.g. ``http://host:port/apis/ccompat/v7``)."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; the id, new or existing."""
        body = {"schema": schema, "schemaType": "AVRO"}
        answer = self._call("POST", f"/subjects/{_quote(subject)}/versions", body)
        return int(answer["id"])

    def schema_by_id(self, schema_id: int) -> str:
        """The Avro JSON text of schema ``schema_id``; ``RegistryError.not_found`` if none."""
        answer = self._call("GET", f"/schemas/ids/{int(schema_id)}")
        return str(answer["schema"])

    def set_compatibility(self, subject: str, level: Compatibility) -> None:
        """Set the compatibility rule new versions of ``subject`` must follow."""
        self._call("PUT", f"/config/{_quote(subject)}", {"compatibility": level})

    def compatibility(self, subject: str) -> str | None:
        """The subject's own compatibility rule, or None when it follows the global one."""
        try:
            answer = self._call("GET", f"/config/{_quote(subject)}")
        except RegistryError as exc:
            if exc.not_found:
                return None
            raise
        level = answer.get("compatibilityLevel") or answer.get("compatibility")
        return str(level) if level else None

    def is_compatible(self, subject: str, schema: str) -> bool:
        """Whether ``schema`` may become the next version of ``subject``."""
        body = {"schema": schema, "schemaType": "AVRO"}
        path = f"/compatibility/subjects/{_quote(subject)}/versions/latest"
        return bool(self._call("POST", path, body).get("is_compatible"))

    def versions(self, subject: str) -> list[int]:
        """Version numbers of ``subject``; empty when the subject does not exist."""
        try:
            return [int(v) for v in self._call("GET", f"/subjects/{_quote(subject)}/versions")]
        except RegistryError as exc:
            if exc.not_found:
                return []
            raise

    def delete_subject(self, subject: str, *, permanent: bool = False) -> None:
        """Delete every version of ``subject`` (soft, then hard when ``permanent``)."""
        for hard in (False, True) if permanent else (False,):
            query = "?permanent=true" if hard else ""
            try:
                self._call("DELETE", f"/subjects/{_quote(subject)}{query}")
            except RegistryError as exc:
                if not exc.not_found:
                    raise

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{method} {self.url}{path}: {reason}") from None
        return json.loads(raw) if raw else None


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> RegistryError:
    try:
        detail = json.loads(exc.read() or b"{}")
    except ValueError:
        detail = {}
    code = detail.get("error_code") if isinstance(detail, dict) else None
    text = detail.get("message", exc.reason) if isinstance(detail, dict) else exc.reason
    message = f"{method} {path}: HTTP {exc.code}: {text}"
    if exc.code == 409:
        return IncompatibleSchemaError(message, status=exc.code, code=code)
    return RegistryError(message, status=exc.code, code=code)
