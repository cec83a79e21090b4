"""The rule set as it travels on ``alpr.rules`` and as a worker holds it.

Each message is one rule keyed by its name: gzip-compressed JSON with the rule, a version
(the SHA-256 of the rule's JSON) and the time it was published; an empty value removes the
rule. :class:`RuleBook` applies these messages in order and keeps the compiled form
(a kind's index, such as a watch list's) next to each rule, so evaluation never rebuilds them.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from rules.model import AnyRule, Rule

_RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)


def rule_json(rule: AnyRule) -> str:
    return json.dumps(rule.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def rule_version(rule: AnyRule) -> str:
    return hashlib.sha256(rule_json(rule).encode()).hexdigest()[:16]


def encode_rule(rule: AnyRule, published_at: float | None = None) -> bytes:
    body = {
        "rule": json.loads(rule_json(rule)),
        "version": rule_version(rule),
        "published_at": time.time() if published_at is None else published_at,
    }
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), mtime=0)


def decode_rule(value: bytes) -> tuple[AnyRule, str]:
    """The rule and its version in a message value."""
    body = json.loads(gzip.decompress(value))
    return _RULE.validate_python(body["rule"]), str(body["version"])


@dataclass
class CompiledRule:
    """A rule with its version and the index its kind builds once (``rule.compile()``)."""

    rule: AnyRule
    version: str
    index: Any = None


def compile_rule(rule: AnyRule, version: str | None = None) -> CompiledRule:
    return CompiledRule(rule, version or rule_version(rule), rule.compile())


@dataclass
class RuleBook:
    """The rules a worker evaluates, by name, updated from the rule topic."""

    rules: dict[str, CompiledRule] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, name: str, value: bytes | None) -> None:
        """Apply one message of the rule topic (``None``/empty: remove the rule)."""
        if not value:
            self.rules.pop(name, None)
            return
        rule, version = decode_rule(value)
        current = self.rules.get(name)
        if current is None or current.version != version:
            self.rules[name] = compile_rule(rule, version)

    def replace(self, rules: list[AnyRule]) -> None:
        self.rules = {rule.name: compile_rule(rule) for rule in rules}

    def enabled(self) -> list[CompiledRule]:
        return [c for c in self.rules.values() if c.rule.enabled]
