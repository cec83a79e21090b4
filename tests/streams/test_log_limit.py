"""Repeated log lines rate-limited (issue 17, finding 6): a flood of one kind of line is a
few lines and a count, other lines pass untouched."""

from __future__ import annotations

import logging

import pytest

from streams.log_limit import MAX_KINDS, RepeatLimiter, limit_repeated_lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged() -> tuple[logging.Logger, Lines, Clock]:
    clock = Clock()
    lines = Lines()
    lines.addFilter(RepeatLimiter(window_s=10, burst=2, clock=clock))
    logger = logging.getLogger("test.log_limit")
    logger.handlers[:] = [lines]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, lines, clock


def test_a_flood_of_one_kind_is_cut_to_the_burst_and_counted_later(
    logged: tuple[logging.Logger, Lines, Clock],
) -> None:
    logger, lines, clock = logged
    for attempt in range(8373):  # the outage of the drill
        clock.now = attempt * 0.004
        logger.error("Unable connect to node with id %s: %s", 1, "refused")
    assert len(lines.lines) == 2 * 4  # two per 10 s window, over about 33 s
    clock.now = 100.0
    logger.error("Unable connect to node with id %s: %s", 1, "refused")
    assert lines.lines[-1].startswith("Unable connect to node with id 1: refused [")
    assert "not logged]" in lines.lines[-1]


def test_other_kinds_and_levels_pass_untouched(
    logged: tuple[logging.Logger, Lines, Clock],
) -> None:
    logger, lines, _clock = logged
    for n in range(5):
        logger.warning("batch %d failed", n)
    logger.info("batch %d failed", 99)
    logger.warning("Joined group %s", "g")
    assert lines.lines == ["batch 0 failed", "batch 1 failed", "batch 99 failed", "Joined group g"]


def test_a_message_with_a_percent_sign_keeps_its_arguments(
    logged: tuple[logging.Logger, Lines, Clock],
) -> None:
    logger, lines, clock = logged
    for _ in range(3):
        logger.warning("disk %d%% full", 97)
    clock.now = 11.0
    logger.warning("disk %d%% full", 98)
    assert lines.lines[-1] == "disk 98% full [1 more like this in the last 11s not logged]"


def test_kinds_are_bounded() -> None:
    clock = Clock()
    limiter = RepeatLimiter(window_s=1, clock=clock)
    for n in range(3 * MAX_KINDS):
        clock.now = n / MAX_KINDS  # f-string messages: each its own kind
        record = logging.LogRecord("x", logging.WARNING, "f", 1, f"line {n}", None, None)
        assert limiter.filter(record)
    assert len(limiter._windows) <= MAX_KINDS + 1


def test_installed_once_on_the_root_handlers() -> None:
    logger = logging.getLogger("test.log_limit.root")
    logger.handlers[:] = [Lines(), Lines()]
    first = limit_repeated_lines(logger=logger)
    assert first is not None
    assert all(first in h.filters for h in logger.handlers)
    assert limit_repeated_lines(logger=logger) is None


@pytest.mark.parametrize(("window_s", "burst"), [(0, 1), (1, 0)])
def test_bad_bounds_are_refused(window_s: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RepeatLimiter(window_s, burst)


def test_one_template_of_two_components_is_two_kinds(
    logged: tuple[logging.Logger, Lines, Clock],
) -> None:
    """The PostgreSQL writer's failures do not hide the Elasticsearch writer's: text
    arguments tell kinds apart, numbers and errors do not."""
    logger, lines, _clock = logged
    for n in range(4):
        logger.warning("%s failed (%d times): %r", "PostgreSQL write", n, OSError("refused"))
    logger.warning("%s failed (%d times): %r", "Elasticsearch bulk", 1, TimeoutError())
    assert [line.split(" failed")[0] for line in lines.lines] == [
        "PostgreSQL write",
        "PostgreSQL write",
        "Elasticsearch bulk",
    ]
