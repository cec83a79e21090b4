"""The labelled sets' parsers and cross-checks, and the committed sets themselves (no network)."""

from __future__ import annotations

import pytest

from bench.sets import (
    SetError,
    SetSource,
    check_consistent,
    load_set,
    parse_labels,
    set_names,
)

SHA = "a" * 64


def _source(file: str, sha: str = SHA) -> SetSource:
    return SetSource(
        file=file, package="p", version="1", archive="sdist", path=f"p-1/{file}",
        source_sha256=sha, licence="MIT",
    )  # fmt: skip


def test_parse_labels_reads_every_column() -> None:
    text = (
        "# file\tplate\tbox\tlines\tregion\tvehicle\tcolour\tnote\n"
        "a.jpg\t60B615952\t10 20 30.5 12\t2\tVN\tmotorcycle\tred\ttwo-line, tilted\n"
        "a.jpg\tAB123CD\t-\t1\tIT\tcar\t-\t-\n"
        "\n"
        "b.png\tKRW301\n"
    )
    first, second, third = parse_labels(text)
    assert first.file == "a.jpg" and first.plate == "60B615952"
    assert first.box == (10.0, 20.0, 30.5, 12.0)
    assert (first.lines, first.region, first.vehicle, first.colour) == (
        2,
        "VN",
        "motorcycle",
        "red",
    )
    assert first.note == "two-line, tilted"
    assert second.box is None and second.colour is None and second.note == ""
    assert third.plate == "KRW301" and third.lines is None and third.vehicle is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.jpg\tab-12", "upper-case letters and digits"),
        ("a.jpg\tAB12\t1 2 3", "x y w h"),
        ("a.jpg\tAB12\t1 2 0 4", "w, h > 0"),
        ("a.jpg\tAB12\t-\t3", "lines must be"),
        ("a.jpg\tAB12\t-\t1\tDE\tplane", "vehicle must be"),
        ("-\tAB12", "no file name"),
    ],
)
def test_parse_labels_names_the_bad_line(row: str, message: str) -> None:
    with pytest.raises(SetError, match=message) as caught:
        parse_labels("# header\n" + row + "\n", "set/labels.tsv")
    assert "set/labels.tsv:2" in str(caught.value)


def test_consistency_checks() -> None:
    label = parse_labels("a.jpg\tAB12\n")
    check_consistent("s", [_source("a.jpg")], label)
    with pytest.raises(SetError, match=r"not in sources\.yaml"):
        check_consistent("s", [_source("b.jpg")], label)
    with pytest.raises(SetError, match="listed twice"):
        check_consistent("s", [_source("a.jpg"), _source("a.jpg", "b" * 64)], label)
    with pytest.raises(SetError, match="several names"):
        check_consistent("s", [_source("a.jpg"), _source("c.jpg")], label)


def test_committed_sets_are_well_formed() -> None:
    names = set_names()
    assert names
    for name in names:
        labelled = load_set(name)
        assert labelled.labels, name
        for source in labelled.sources:
            assert source.licence.strip(), f"{name}/{source.file}: no licence"
