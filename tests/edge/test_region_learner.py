"""A camera learns the country its plates are from (edge/video/region.py)."""

from __future__ import annotations

import pytest

from edge.config import Formats
from edge.formats import PlateFormats
from edge.video.region import RegionLearner, learner_for


def test_a_country_is_preferred_once_enough_named_reads_mostly_name_it() -> None:
    learner = RegionLearner(window=10, min_named=5, share=0.8)
    for _ in range(4):
        learner.add("ro")
    assert learner.country() is None  # too few yet
    learner.add(None)  # a read whose layouts did not tell: counts for nothing
    assert learner.country() is None
    learner.add("ro")
    assert learner.country() == "ro"
    learner.add("bg")
    assert learner.country() == "ro"  # 5 of 6
    learner.add("bg")
    assert learner.country() is None  # 5 of 7, under 0.8


def test_a_state_counts_for_its_country_and_the_window_forgets_old_reads() -> None:
    learner = RegionLearner(window=5, min_named=3, share=0.8)
    for region in ("us-ca", "us", "us-tx"):
        learner.add(region)
    assert learner.country() == "us"
    for _ in range(5):  # the camera now sees another country's traffic
        learner.add("mx")
    assert learner.country() == "mx"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_named"):
        RegionLearner(window=5, min_named=6)
    with pytest.raises(ValueError, match="share"):
        RegionLearner(share=0.5)


def test_only_a_camera_spanning_several_countries_learns() -> None:
    assert learner_for(PlateFormats(Formats(region="eu"))) is not None
    assert learner_for(PlateFormats(Formats(region="us-states"))) is None  # one country
    assert learner_for(PlateFormats(Formats(region="eu", learn_region=False))) is None
