"""Rule files: YAML and Python, errors with file, line and field, CSV watch lists."""

from __future__ import annotations

from pathlib import Path

from rules.loader import load_rules
from rules.model import WatchlistRule

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"


def test_examples_load_without_errors() -> None:
    result = load_rules([EXAMPLES])
    assert result.errors == []
    kinds = {rule.type for rule in result.rules}
    assert kinds == {"watchlist", "threshold", "rate", "sequence", "impossible_travel",
                     "dwell", "silence"}  # fmt: skip


def test_csv_plates_are_inlined(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("plate\nGH51XYZ\n")
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - {name: w, type: watchlist, plates: [AB1], plates_csv: list.csv}\n"
    )
    (rule,) = load_rules([tmp_path / "r.yaml"]).rules
    assert isinstance(rule, WatchlistRule)
    assert rule.plates == ["AB1", "GH51XYZ"] and rule.plates_csv is None


def test_yaml_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n"
        "  - name: ok\n"
        "    type: watchlist\n"
        "    plates: [AB1]\n"
        "  - name: r\n"
        "    type: rate\n"
        "    count: 1\n"
        "    window: 5x\n"
        "    colour: red\n"
        "  - name: t\n"
        "    type: threshold\n"
        "    field: plate_confidence\n"
        "    op: '<'\n"
    )
    errors = {(e.line, e.field) for e in load_rules([path]).errors}
    assert errors == {
        (7, "rules[1].count"),
        (8, "rules[1].window"),
        (9, "rules[1].colour"),
        (10, "rules[2].value"),
    }
    assert all(e.file == str(path) for e in load_rules([path]).errors)


def test_missing_csv_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - name: w\n    type: watchlist\n    plates_csv: nope.csv\n")
    (error,) = load_rules([path]).errors
    assert (error.line, error.field) == (4, "rules[0].plates_csv")


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - name: [\n")
    (error,) = load_rules([path]).errors
    assert error.line is not None and "not valid YAML" in error.message


def test_python_file_errors_point_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.py"
    path.write_text(
        "from rules.model import RateRule\n"
        "\n"
        "RULES = [RateRule(type='rate', name='r', count=1, window=60)]\n"
    )
    (error,) = load_rules([path]).errors
    assert (error.file, error.line, error.field) == (str(path), 3, "count")


def test_python_file_may_return_rules(tmp_path: Path) -> None:
    path = tmp_path / "r.py"
    path.write_text(
        "def rules():\n    return [{'type': 'watchlist', 'name': 'w', 'plates': ['A1']}]\n"
    )
    assert [r.name for r in load_rules([path]).rules] == ["w"]


def test_a_name_used_twice_is_an_error(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("rules:\n  - {name: w, type: watchlist, plates: [A1]}\n")
    (error,) = load_rules([tmp_path]).errors
    assert error.field == "name" and "already used" in error.message
