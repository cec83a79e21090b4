"""bench.small_plates: a plate cut out with its margin and scaled to a width."""

from __future__ import annotations

import numpy as np
import pytest

from bench.small_plates import main, scaled_plate


def test_a_plate_is_scaled_to_the_width_with_a_margin_of_its_own_size() -> None:
    image = np.zeros((400, 600, 3), np.uint8)
    image[200:230, 300:400] = 255  # the plate, 100 x 30
    small, (x1, y1, x2, y2) = scaled_plate(image, (300, 200, 400, 230), 50)
    assert (x2 - x1, y2 - y1) == pytest.approx((50, 15))
    assert small.shape[:2] == (45, 150)  # three times the plate each way, halved
    inside = small[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1]
    assert inside.min() > 200 and small[: int(y1) - 1].max() < 50


def test_a_plate_at_the_image_edge_gets_grey_margin_and_is_never_enlarged() -> None:
    image = np.full((60, 200, 3), 255, np.uint8)  # a crop: the plate is the whole image
    small, box = scaled_plate(image, (0, 0, 200, 60), 400)
    assert small.shape[:2] == (180, 600) and box == pytest.approx((200, 60, 400, 120))
    assert small[0, 0].tolist() == [60, 60, 60]
    with pytest.raises(ValueError, match="empty plate box"):
        scaled_plate(image, (10, 10, 10, 20), 40)


def test_bad_widths_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for widths in ("4", "x,40"):
        with pytest.raises(SystemExit):
            main(["somewhere", "--widths", widths])
        assert "--widths" in capsys.readouterr().err
