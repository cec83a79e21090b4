"""The evaluation harness's label formats, matching and failure kinds (no images, no models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.evaluation.labels import Label, Outcome, Read, failure_kind, load_set, match


def test_the_project_tsv_takes_boxes_lines_several_plates_and_old_notes(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text(
        "# file\tplate\tbox\tlines\n"
        "a.jpg\tBA-268 IM\t10 20 100 30\t1\tsk\n"
        "b.jpg\tAB123,CD456\n"
        "c.jpg\tMH12SH5901\tIndian plate of a scooter\n",
        encoding="utf-8",
    )
    labels = load_set(tmp_path)
    assert labels["a.jpg"] == [Label("a.jpg", "BA268IM", (10.0, 20.0, 110.0, 50.0), 1, "sk")]
    assert [x.text for x in labels["b.jpg"]] == ["AB123", "CD456"]
    assert labels["c.jpg"] == [Label("c.jpg", "MH12SH5901")]


def test_bad_rows_name_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("a.jpg\tAB1\t1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.tsv:1: box must be 'x y w h'"):
        load_set(tmp_path)
    (tmp_path / "labels.tsv").write_text("a.jpg\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.tsv:1: expected 'file<TAB>plate'"):
        load_set(tmp_path)


def test_openalpr_style_text_files_beside_the_images_are_read(tmp_path: Path) -> None:
    (tmp_path / "car1.jpg").write_bytes(b"")
    (tmp_path / "car1.txt").write_text("car1.jpg 10 20 100 30 ab123cd\n", encoding="utf-8")
    assert load_set(tmp_path) == {"car1.jpg": [Label("car1.jpg", "AB123CD", (10, 20, 110, 50))]}
    with pytest.raises(ValueError, match=r"no labels\.tsv"):
        load_set(tmp_path / "missing")


def test_reads_pair_with_the_closest_plate_and_far_reads_are_false() -> None:
    labels = [Label("x", "AB123CD", (0, 0, 100, 30)), Label("x", "ZZ999ZZ")]
    outcomes, extra = match(labels, [Read("AB128CD", (5, 0, 100, 30)), Read("QQQ")])
    assert [o.read for o in outcomes] == ["AB128CD", None]
    assert [o.found for o in outcomes] == [True, False]
    assert [e.text for e in extra] == ["QQQ"]
    assert outcomes[0].errors == 1 and outcomes[1].errors == 7


def test_the_region_of_an_exact_read_is_right_wrong_or_unnamed() -> None:
    labels = [
        Label("x", "B121PHD", region="ro"),
        Label("x", "7ABC123", region="us"),
        Label("x", "MLB803", region="se"),
        Label("x", "OXC502", region="ar"),
        Label("x", "5AU5341", region="cz"),
        Label("x", "NO23456"),
    ]
    reads = [
        Read("B121PHD", region="ro"),
        Read("7ABC123", region="us-ca"),  # a state of the labelled country
        Read("MLB803"),
        Read("OXC502", region="be"),
        Read("5AU5347", region="cz"),  # not exact: not counted
        Read("NO23456", region="no"),  # no labelled region: not counted
    ]
    outcomes, _ = match(labels, reads)
    kinds = [o.region_kind for o in outcomes]
    assert kinds == ["right", "right", "unnamed", "wrong", None, None]
    assert Outcome(Label("x", "7ABC123", region="us-ca"), "7ABC123", True, "us").region_kind == (
        "right"
    )


def test_failure_kinds_say_what_went_wrong() -> None:
    plate = Label("x", "60B615952", lines=2)
    assert failure_kind(plate, "60B615952") == "ok"
    assert failure_kind(plate, "15952") == "partial line"
    assert failure_kind(Label("x", "AB123CD"), "AB12CD") == "missing chars"
    assert failure_kind(Label("x", "RK248AH"), "PRK248AH") == "extra chars"
    assert failure_kind(Label("x", "BA268IM"), "BA2681M") == "misread"
    assert failure_kind(Label("x", "BA268IM"), None, found=False) == "not found"
