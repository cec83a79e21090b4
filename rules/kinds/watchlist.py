"""``watchlist``: a read whose plate is on a list (exact or OCR-fuzzy) or matches a pattern.

The list is compiled once per rule version (:class:`~rules.matching.Watchlist`), so a read
that matches no list needs no state at all. ``plates_csv`` is read at load time and inlined.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from rules.kinds.base import FieldError, Keyed, RuleBase
from rules.matching import Watchlist, read_plates_csv
from rules.state import PlateHistory, Sighting, Trigger


class WatchlistRule(RuleBase):
    """A read whose plate is on a list (exact or OCR-fuzzy) or matches a pattern."""

    judges_late_reads: ClassVar[bool] = True

    type: Literal["watchlist"]
    match: Literal["exact", "fuzzy", "regex"] = Field(
        default="exact", description="How plates match"
    )
    plates: list[str] = Field(default_factory=list, description="Plates, or patterns for regex")
    plates_csv: str | None = Field(
        default=None, description="CSV file (first column: plate) relative to the rule file"
    )
    max_distance: float = Field(
        default=1.0,
        ge=0,
        le=3,
        description="Fuzzy: largest edit distance (OCR confusions cost 0.25)",
    )

    @model_validator(mode="after")
    def _has_plates(self) -> WatchlistRule:
        if not self.plates and self.plates_csv is None:
            raise ValueError("a watchlist needs plates or plates_csv")
        if self.match == "regex":
            for pattern in self.plates:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return self

    def keyed_by(self) -> Keyed:
        return "read"

    def compile(self) -> Watchlist:
        return Watchlist(self.plates, self.match, self.max_distance)

    def wants(self, plate: str, index: Any) -> bool:
        return index.match(plate) is not None

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return watchlist_hit(self, index, subject, read)

    def with_files(self, folder: Path) -> Self:
        if self.plates_csv is None:
            return self
        try:
            with open(folder / self.plates_csv, encoding="utf-8") as lines:
                plates = read_plates_csv(lines)
        except (OSError, ValueError) as exc:
            raise FieldError("plates_csv", str(exc)) from exc
        merged = list(dict.fromkeys([*self.plates, *plates]))
        return self.model_copy(update={"plates": merged, "plates_csv": None})

    def standalone_problem(self) -> str | None:
        if self.plates_csv is None:
            return None
        return "give a watch list's plates inline, not plates_csv"


def watchlist_hit(
    rule: WatchlistRule, watchlist: Watchlist, plate: str, read: Sighting
) -> Trigger | None:
    listed = watchlist.match(plate)
    if listed is None:
        return None
    how = "" if listed == plate else f" (listed as {listed})"
    return Trigger(
        rule, plate, (read.event_id,), read.ts,
        f"{plate}{how} on watch list {rule.name}", {"listed": listed},
    )  # fmt: skip
