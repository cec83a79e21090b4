"""The country a camera's plates are from, learnt from what it reads.

A camera whose region spans several countries (``any``, ``eu``) decodes each plate against
all their layouts, and a plate that lost a character fits some other country's layout as
well as its own (Bucharest's ``IF 14 UPS`` read without its thin I is Indonesia's
``F 14 UPS``). Most cameras see one country's plates. Each final read that names its region
(``PlateFormats.region_of``: only one country's layouts fit it much better than any
other's) counts for that region's country; once :data:`MIN_NAMED` of the last
:data:`WINDOW` named reads are in and :data:`SHARE` of them name one country, the camera
prefers it (``PlateFormats.preferring``: another country's layout costs ``foreign_cost``).
A camera whose traffic changes unlearns it as the window moves on.
"""

from __future__ import annotations

from collections import Counter, deque

from edge.formats import PlateFormats, country_of

#: Named reads a camera remembers (the most recent).
WINDOW = 200
#: Named reads needed before a country is preferred.
MIN_NAMED = 20
#: Share of the remembered named reads one country must hold to be preferred.
SHARE = 0.8


class RegionLearner:
    """The country most of one camera's recent named reads are from."""

    def __init__(self, window: int = WINDOW, min_named: int = MIN_NAMED, share: float = SHARE):
        if not 1 <= min_named <= window:
            raise ValueError(f"min_named must be 1 to window ({window}), got {min_named}")
        if not 0.5 < share <= 1.0:
            raise ValueError(f"share must be above 0.5 and at most 1, got {share}")
        self.min_named = min_named
        self.share = share
        self._recent: deque[str] = deque(maxlen=window)

    def add(self, region: str | None) -> None:
        """Count one final read's region (``us-ca`` counts for ``us``); ``None`` (the
        layouts did not tell) counts for nothing."""
        if region is not None:
            self._recent.append(country_of(region))

    def country(self) -> str | None:
        """The country to prefer, or ``None`` while the reads do not point at one."""
        if len(self._recent) < self.min_named:
            return None
        country, count = Counter(self._recent).most_common(1)[0]
        return country if count >= self.share * len(self._recent) else None


def learner_for(formats: PlateFormats) -> RegionLearner | None:
    """A learner for a camera that decodes with ``formats``; ``None`` when there is nothing
    to learn: its layouts are one country's, or ``formats.learn_region`` is off."""
    if formats.config.learn_region and len(formats.countries()) > 1:
        return RegionLearner()
    return None
