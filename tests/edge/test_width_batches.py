"""How the recognizer's lines are split into runs by width (``width_batches``)."""

from edge.engine.ocr import RUN_COST, WIDTH_STEP, width_batches


def test_lines_of_one_width_go_in_one_run() -> None:
    assert width_batches([192] * 8) == [list(range(8))]


def test_no_lines_no_runs() -> None:
    assert width_batches([]) == []


def test_one_wide_line_among_many_short_ones_gets_a_run_of_its_own() -> None:
    widths = [192, 192, 640, 192, 192, 192, 192, 192]
    assert width_batches(widths) == [[0, 1, 3, 4, 5, 6, 7], [2]]


def test_a_second_run_is_made_only_when_it_saves_more_than_it_costs() -> None:
    # One line a step wider than seven others: padding the seven costs less than a run.
    slightly = [192] * 7 + [192 + WIDTH_STEP]
    assert 7 * WIDTH_STEP < RUN_COST
    assert width_batches(slightly) == [list(range(8))]


def test_every_line_is_in_exactly_one_run_and_runs_go_narrow_to_wide() -> None:
    widths = [300, 120, 700, 180, 650, 90, 200]
    runs = width_batches(widths)
    assert sorted(i for run in runs for i in run) == list(range(len(widths)))
    assert max(widths[i] for i in runs[0]) <= min(widths[i] for i in runs[-1])
