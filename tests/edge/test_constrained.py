"""Constrained CTC decoding and the plate decoder, on synthetic recognizer outputs."""

from __future__ import annotations

import itertools

import numpy as np

from edge.config import Formats
from edge.engine.constrained import decode_templates, fold_blanks, greedy
from edge.engine.decoder import decode_plate
from edge.formats import PlateFormats
from edge.layouts import DIGITS, LETTERS

CHARSET = DIGITS + LETTERS


def _output(chars: list[dict[str, float]], gap: int = 2, lead: int = 1) -> np.ndarray:
    """Log-probabilities of a line: per character two steps holding ``chars[i]`` (the rest
    of the mass on the blank), separated by ``gap`` blank steps."""
    rows: list[dict[str, float]] = [{} for _ in range(lead)]
    for dist in chars:
        rows += [dist, dist] + [{} for _ in range(gap)]
    probs = np.full((len(rows), len(CHARSET) + 1), 1e-4)
    for step, dist in enumerate(rows):
        for char, p in dist.items():
            probs[step, CHARSET.index(char) + 1] = p
        probs[step, 0] = max(1e-4, 1.0 - sum(dist.values()))
    probs /= probs.sum(axis=1, keepdims=True)
    return np.log(probs)


def _plate(text: str, doubt: dict[int, dict[str, float]] | None = None) -> np.ndarray:
    doubt = doubt or {}
    return _output([doubt.get(i, {c: 0.98}) for i, c in enumerate(text)])


def test_greedy_collapses_repeats_and_blanks() -> None:
    line = _plate("AA12")
    assert greedy(line, CHARSET).text == "AA12"


def test_folding_blank_runs_keeps_the_text_and_shortens_the_lattice() -> None:
    line = _output([{"A": 0.98}, {"A": 0.98}, {"7": 0.98}], gap=8)
    folded, offset = fold_blanks(line)
    assert len(folded) < len(line) and offset < 0
    assert greedy(folded, CHARSET).text == "AA7"


def test_a_template_turns_a_look_alike_into_the_class_its_position_needs() -> None:
    line = _plate("BA268IM", {5: {"1": 0.6, "I": 0.35}})
    assert greedy(line, CHARSET).text == "BA2681M"
    letters_digits = (LETTERS, LETTERS, DIGITS, DIGITS, DIGITS, LETTERS, LETTERS)
    (decoded,) = decode_templates(line, CHARSET, [letters_digits])
    assert decoded is not None and decoded.text == "BA268IM"
    assert decoded.log_prob < greedy(line, CHARSET).log_prob
    assert decoded.confidences[5] < 0.5 < min(decoded.confidences[:5])


def test_templates_decode_at_once_and_one_too_long_for_the_steps_gives_none() -> None:
    line = _plate("AB12")
    short, long_one = decode_templates(
        line, CHARSET, [(LETTERS, LETTERS, DIGITS, DIGITS), (DIGITS,) * 40]
    )
    assert short is not None and short.text == "AB12"
    assert long_one is None


def test_the_decoder_picks_the_layout_and_drops_a_band_letter_it_cannot_place() -> None:
    slovak = PlateFormats(Formats(), "sk")
    read = decode_plate([_plate("BA268IM", {5: {"1": 0.6, "I": 0.35}})], CHARSET, slovak)
    assert read is not None and (read.text, read.valid, read.precise) == ("BA268IM", True, True)
    assert read.format is not None and read.format.startswith("sk:")
    # A doubtful extra first letter (a country band's) costs less than the layout gains.
    banded = _plate("XBA268IM", {0: {"X": 0.5}})
    read = decode_plate([banded], CHARSET, slovak)
    assert read is not None and read.text == "BA268IM"


def test_a_read_that_no_layout_explains_is_kept_and_flagged() -> None:
    czech = PlateFormats(Formats(), "cz")
    read = decode_plate([_plate("PASSATCC")], CHARSET, czech)
    assert read is not None and (read.text, read.valid, read.format) == ("PASSATCC", False, None)


def test_two_lines_decode_against_two_line_layouts_only() -> None:
    vietnam = PlateFormats(Formats(), "vn")
    top, bottom = _plate("60B6"), _plate("15952", {0: {"I": 0.55, "1": 0.4}})
    read = decode_plate([top, bottom], CHARSET, vietnam)
    assert read is not None and (read.text, read.lines, read.valid) == ("60B615952", 2, True)
    assert decode_plate([_plate("60B6"), _output([])], CHARSET, vietnam) is None


def test_a_word_set_decides_a_tie_the_recognizer_leaves_open() -> None:
    # The scooter's MH12: M 0.49 against H 0.49 at the first step. HH is no Indian state.
    indian = PlateFormats(Formats(), "in")
    tied = {0: {"H": 0.49, "M": 0.49}}
    for top in (_plate("HH12", tied), _plate("MH12", tied)):
        read = decode_plate([top, _plate("SH5901")], CHARSET, indian)
        assert read is not None and (read.text, read.valid) == ("MH12SH5901", True)
    # A clear reading of a code that no state has is kept and flagged, never bent.
    read = decode_plate([_plate("XX12AB1234")], CHARSET, indian)
    assert read is not None and (read.text, read.valid) == ("XX12AB1234", False)


def test_a_confidently_read_band_is_dropped_where_the_region_has_that_band() -> None:
    # A colour cast hid the band's blue: its letters were read, clearly, as characters.
    for region in ("ro", "eu", "any"):
        formats = PlateFormats(Formats(), region)
        for text, plate in (
            ("RIF05TAC", "IF05TAC"),
            ("ROB01XEN", "B01XEN"),
            ("RB310VLV", "B310VLV"),
        ):
            read = decode_plate([_plate(text)], CHARSET, formats)
            assert read is not None and read.text == plate
            assert read.valid and read.format is not None and read.format.startswith("ro:")
            assert len(read.text) == len(text) - (2 if text.startswith("RO") else 1)


def test_a_plate_whose_own_layout_takes_the_letters_keeps_them() -> None:
    # Darmstadt DA XY 123: D is also Germany's band letter, but the plate's layout takes it.
    for region in ("de", "eu"):
        read = decode_plate([_plate("DAXY123")], CHARSET, PlateFormats(Formats(), region))
        assert read is not None and read.text == "DAXY123"
    # Only the enabled regions' bands are tried: without Romania, the R stays
    read = decode_plate([_plate("RB310VLV")], CHARSET, PlateFormats(Formats(), "de"))
    assert read is not None and read.text == "RB310VLV"


def test_california_plates_take_the_letter_o() -> None:
    # 3HOS909: a real 1990s California plate; the layout once left O out and read it D
    california = PlateFormats(Formats(), "us-ca")
    read = decode_plate([_plate("3HOS909", {2: {"O": 0.6, "D": 0.35}})], CHARSET, california)
    assert read is not None and (read.text, read.format) == ("3HOS909", "us-ca:0")


def test_the_plate_shape_keeps_a_2_to_1_plate_out_of_european_layouts() -> None:
    # 3HOS909, a 2:1 California plate, with O read as 0 more than as O: Czech `D L A{2} DDD`
    # takes 3H0S909 as it stands, but Czech plates are long (aspects in layouts.yaml)
    formats = PlateFormats(Formats(), "any")
    plate = _plate("3HOS909", {2: {"0": 0.6, "O": 0.35}})
    for aspect in (None, 4.5):  # unknown, or a long plate: the Czech reading stands
        read = decode_plate([plate], CHARSET, formats, aspect)
        assert read is not None and (read.text, read.format) == ("3H0S909", "cz:1")
    read = decode_plate([plate], CHARSET, formats, 2.0)
    assert read is not None and read.text == "3HOS909" and read.format is not None
    assert read.format.split(":")[0] in {"us", "us-ca"}
    # aspect_cost 0 turns the check off
    off = PlateFormats(Formats(aspect_cost=0), "any")
    read = decode_plate([plate], CHARSET, off, 2.0)
    assert read is not None and read.text == "3H0S909"


def test_a_camera_that_learnt_its_country_reads_look_alikes_its_way() -> None:
    # Two countries' layouts: the recognizer leans to 0, which only bb's layout takes.
    config = Formats(regions={"aa": ["LL DDD"], "bb": ["DL DDD"]}, region="aa,bb")
    formats = PlateFormats(config)
    plate = _plate("OA123", {0: {"0": 0.6, "O": 0.35}})
    read = decode_plate([plate], CHARSET, formats)
    assert read is not None and (read.text, read.format) == ("0A123", "bb:0")
    # A camera of country aa: bb's layout costs foreign_cost, more than aa's bend of O.
    read = decode_plate([plate], CHARSET, formats.preferring("aa"))
    assert read is not None and (read.text, read.format) == ("OA123", "aa:0")
    # A foreign plate that its own layout explains much better still reads its way.
    clear = _plate("0A123", {0: {"0": 0.97, "O": 0.01}})
    read = decode_plate([clear], CHARSET, formats.preferring("aa"))
    assert read is not None and read.text == "0A123"
    # foreign_cost 0 turns it off; preferring None undoes it.
    off = PlateFormats(Formats(regions=config.regions, region="aa,bb", foreign_cost=0))
    for unpreferred in (off.preferring("aa"), formats.preferring("aa").preferring(None)):
        read = decode_plate([plate], CHARSET, unpreferred)
        assert read is not None and read.text == "0A123"


def test_a_word_over_or_under_the_registration_is_left_out_of_a_two_line_reading() -> None:
    # Read at split rows, a 1990s California plate is CALIFORNIA over 4ESD877: the reading
    # is the registration's line alone, decoded as a one-line plate.
    formats = PlateFormats(Formats(), "any")
    registration = _plate("4ESD877")
    for lines in ([_plate("CALIFORNIA"), registration], [registration, _plate("TOYOTA")]):
        read = decode_plate(lines, CHARSET, formats, 2.0)
        assert read is not None and (read.text, read.lines, read.valid) == ("4ESD877", 1, True)
    # Short letter lines are a real two-line layout's (Vietnam's series over its number),
    # and two words hold no registration at all.
    vietnam = PlateFormats(Formats(), "vn")
    read = decode_plate([_plate("60B6"), _plate("15952")], CHARSET, vietnam)
    assert read is not None and read.lines == 2
    read = decode_plate([_plate("SUNSHINE"), _plate("STATE")], CHARSET, formats, 2.0)
    assert read is not None and (read.text, read.lines, read.valid) == ("SUNSHINESTATE", 2, False)


def test_a_split_whose_other_line_reads_nothing_is_a_plate_only_when_precise() -> None:
    # 1MLD993 under an empty line (the split ran above the characters): a California plate
    formats = PlateFormats(Formats(), "any")
    read = decode_plate([_output([]), _plate("1MLD993")], CHARSET, formats, 2.0)
    assert read is not None and (read.text, read.lines, read.precise) == ("1MLD993", 1, True)
    # a fragment (too short, or fitting no precise layout) is no plate
    for fragment in ("IEEL", "Q1Q1Q1Q1Q1Q1"):
        assert decode_plate([_plate(fragment), _output([])], CHARSET, formats, 2.0) is None


def _best_paths_by_brute_force(
    log_probs: np.ndarray, charset: str, templates: list[tuple[str, ...]]
) -> list[tuple[float, str] | None]:
    """Every CTC path of a short line tried: the best score and text fitting each template."""
    best: list[tuple[float, str] | None] = [None] * len(templates)
    for path in itertools.product(range(len(charset) + 1), repeat=len(log_probs)):
        text, previous = "", 0
        for label in path:
            if label and label != previous:
                text += charset[label - 1]
            previous = label
        score = float(sum(log_probs[step, label] for step, label in enumerate(path)))
        for index, template in enumerate(templates):
            fits = len(text) == len(template) and all(
                char in allowed for char, allowed in zip(text, template, strict=True)
            )
            if fits and (best[index] is None or score > best[index][0]):  # type: ignore[index]
                best[index] = (score, text)
    return best


def test_the_template_viterbi_finds_the_best_path_that_every_path_tried_finds() -> None:
    charset = "AB1"
    # Positions of allowed characters; ("A", "A") needs a blank between its two A's.
    templates = [("A", "1"), ("AB", "1"), ("A", "A"), ("1", "AB1", "B"), ("B", "A", "1", "1")]
    rng = np.random.default_rng(7)
    for steps in range(1, 7):
        for _ in range(6):
            logits = rng.normal(size=(steps, len(charset) + 1)) * 2.0
            log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            decoded = decode_templates(log_probs, charset, templates)
            expected = _best_paths_by_brute_force(log_probs, charset, templates)
            for got, want in zip(decoded, expected, strict=True):
                if want is None:
                    assert got is None
                else:
                    assert got is not None and got.text == want[1]
                    assert abs(got.log_prob - want[0]) < 1e-9
