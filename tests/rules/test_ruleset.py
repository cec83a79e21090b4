"""The rule set as messages: encode/decode, versions, removal by tombstone."""

from __future__ import annotations

from rules.model import RateRule, WatchlistRule
from rules.ruleset import RuleBook, decode_rule, encode_rule, rule_version

WATCH = WatchlistRule(type="watchlist", name="w", plates=["AB123CD"], match="fuzzy")


def test_a_rule_survives_the_wire_with_its_version() -> None:
    rule, version = decode_rule(encode_rule(WATCH))
    assert rule == WATCH and version == rule_version(WATCH)


def test_a_large_watch_list_fits_one_message() -> None:
    plates = [f"P{n:07d}" for n in range(100_000)]
    big = WatchlistRule(type="watchlist", name="big", plates=plates)
    assert len(encode_rule(big)) < 1024 * 1024


def test_book_applies_updates_and_tombstones() -> None:
    book = RuleBook()
    book.apply("w", encode_rule(WATCH))
    assert book.rules["w"].index is not None
    assert book.rules["w"].index.match("A8123CD") == "AB123CD"
    rate = RateRule(type="rate", name="w", count=2, window=60)
    book.apply("w", encode_rule(rate))
    assert book.rules["w"].rule == rate
    book.apply("w", None)
    assert book.rules == {}


def test_version_changes_with_the_rule() -> None:
    assert rule_version(WATCH) != rule_version(WATCH.model_copy(update={"severity": "info"}))
