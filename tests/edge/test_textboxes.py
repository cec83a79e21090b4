"""Grouping text boxes into plate candidates."""

from __future__ import annotations

from edge.engine.textboxes import belong_together, merge_text_boxes


def test_words_of_one_line_are_merged() -> None:
    passat, cc = (20, 330, 120, 370), (130, 332, 180, 372)
    assert belong_together(passat, cc)
    assert merge_text_boxes([(passat, 0.9), (cc, 0.7)]) == [((20, 330, 180, 372), 0.7)]


def test_two_stacked_lines_of_similar_size_are_merged() -> None:
    top, bottom = (140, 395, 215, 418), (142, 421, 216, 445)
    assert merge_text_boxes([(top, 0.8), (bottom, 0.9)]) == [((140, 395, 216, 445), 0.8)]


def test_far_apart_boxes_and_a_big_heading_over_small_print_stay_apart() -> None:
    plate, sign = (100, 900, 420, 1010), (600, 100, 800, 140)
    assert not belong_together(plate, sign)
    heading, small_print = (0, 0, 100, 60), (0, 62, 100, 72)
    assert not belong_together(heading, small_print)
    assert len(merge_text_boxes([(plate, 0.9), (sign, 0.8)])) == 2


def test_three_words_chain_into_one_box_and_degenerate_boxes_never_merge() -> None:
    words = [((0, 0, 30, 20), 0.9), ((35, 0, 60, 20), 0.8), ((65, 1, 90, 21), 0.95)]
    assert merge_text_boxes(words) == [((0, 0, 90, 21), 0.8)]
    assert not belong_together((0, 0, 0, 10), (0, 0, 10, 10))
