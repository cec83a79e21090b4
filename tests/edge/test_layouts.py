"""Plate layouts as data: notation, expansion into templates, groups and checks."""

from __future__ import annotations

import pytest

from edge.config import Formats
from edge.formats import PlateFormats
from edge.layouts import DIGITS, LETTERS, Layout, build_book, parse_line, shipped_book


def test_a_line_names_classes_and_counts_and_ignores_separators() -> None:
    assert parse_line("LL-D{1,2} [EH]?") == [
        (LETTERS, 1, 1),
        (LETTERS, 1, 1),
        (DIGITS, 1, 2),
        ("EH", 0, 1),
    ]


def test_bad_lines_are_refused_with_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"expected L, D, A, \[CHARS\] or \(WORD\|WORD\)"):
        parse_line("LLX")
    with pytest.raises(ValueError, match="bad count"):
        parse_line("L{3,1}")
    with pytest.raises(ValueError, match="empty layout line"):
        parse_line(" - ")


def test_a_word_set_is_one_template_per_word_length_with_its_exact_spellings() -> None:
    assert parse_line("(MH|MP|DL) DD") == [
        (("MH", "MP", "DL"), 1, 1),
        (DIGITS, 1, 1),
        (DIGITS, 1, 1),
    ]
    (template,) = Layout("xx", 0, ("(MH|MP|DL) DD",)).templates()
    # Decoded as one template: any of the words' characters at each position ...
    assert template.lines == (("DM", "HLP", DIGITS, DIGITS),)
    # ... then the winner's word is chosen among the exact spellings.
    assert [v.lines for v in template.variants] == [
        (("M", "HP", DIGITS, DIGITS),),
        (("D", "L", DIGITS, DIGITS),),
    ]
    assert template.fits("MH12") and template.fits("DL12")
    assert not template.fits("ML12") and not template.fits("DH12")
    plain = Layout("xx", 1, ("LL DD",)).templates()
    assert all(t.variants == () for t in plain)


def test_word_sets_are_named_in_the_book_and_an_unknown_name_is_refused() -> None:
    book = build_book({"xx": ["$codes D"]}, {}, {"codes": ["AB", "CD"]})
    (template,) = book.regions["xx"][0].templates()
    assert template.fits("AB1") and not template.fits("AD1")
    # A separator right after the name is not part of it.
    (dashed,) = build_book({"xx": ["D-$my-codes-D"]}, {}, {"my-codes": ["AB"]}).regions["xx"]
    assert any(t.fits("1AB2") for t in dashed.templates())
    with pytest.raises(ValueError, match=r"layout yy:0: .*unknown word set \$nope"):
        build_book({"yy": ["$nope D"]}, {}, {"codes": ["AB"]})
    with pytest.raises(ValueError, match="letters and digits"):
        build_book({"yy": ["$codes D"]}, {}, {"codes": ["A-B"]})


def test_indian_plates_start_with_a_state_code() -> None:
    formats = shipped_book().select(["in"])
    texts = {"MH12SH5901": True, "HH12SH5901": False, "DL01AB1234": True, "XX01AB1234": False}
    for text, valid in texts.items():
        fits = any(t.fits(text) for layout in formats for t in layout.templates())
        assert fits is valid, text


def test_irish_plates_start_with_a_year_then_a_county_mark() -> None:
    formats = shipped_book().select(["ie"])
    texts = {
        "12D12345": True,
        "99KK1": True,
        "131D1": True,
        "252WX123456": True,
        # An old Argentine OOI 662 read with zeros: the letter I marks no Irish county.
        "00I662": False,
        "01N290": False,
        # No such years.
        "86D1": False,
        "13D1": False,
    }
    for text, valid in texts.items():
        fits = any(t.fits(text) for layout in formats for t in layout.templates())
        assert fits is valid, text


def test_a_plate_region_is_named_only_when_the_layouts_it_fits_are_one_country() -> None:
    anywhere = PlateFormats(Formats(region="any"))
    assert anywhere.region_of("MH12SH5901") == "in"
    # Swedish, Belgian, Lithuanian, Argentine ... layouts alike: no region.
    assert anywhere.region_of("MLB803") is None
    assert anywhere.region_of("NO23456") is None  # Norway's and Switzerland's
    assert anywhere.region_of("!!") is None
    # A catch-all (the US vanity plates') does not make a precise fit ambiguous ...
    americas = PlateFormats(Formats(region="americas"))
    assert americas.region_of("ABC1D23") == "br"
    # ... and fits alone: its own region.
    assert americas.region_of("PASSATCC") == "us"
    # California's layout is also a generic US one: the country.
    assert americas.region_of("7ABC123") == "us"
    assert PlateFormats(Formats(region="us-ca")).region_of("7ABC123") == "us-ca"
    # Romania's B DDD LLL also fits Britain's older L DDD LLL, which takes 22 times as many
    # texts: Romanian. SB90TZI fits Romania's and Indonesia's, 4 times as many.
    assert anywhere.region_of("B121PHD") == "ro"
    assert anywhere.region_of("SB90TZI") == "ro"
    # Czechia's D [region letter] A DDDD and a US D LL DDDD differ less than that.
    assert anywhere.region_of("5AU5341") is None
    assert PlateFormats(Formats(region="eu")).region_of("5AU5341") == "cz"


def test_dutch_plates_use_the_letters_of_their_sidecode() -> None:
    formats = shipped_book().select(["nl"])
    texts = {
        "GBB01B": True,  # sidecode 11 (2024)
        "KZ999X": True,  # sidecode 9
        "KZ999E": False,  # no vowel since sidecode 4
        "K999XZ": True,
        "12ZXBD": True,
        "AB1234": True,  # sidecode 1 (1951-1965) had vowels ...
        "AB12ZX": False,  # ... sidecode 4 on none
        # Old Argentine OXC 502 and OOH 058 read with zeros: C and O are never issued.
        "0XC502": False,
        "0OH058": False,
        "XC1234": False,
        "0PJ120": True,
        "12BBY1": False,  # Y only in sidecodes 4-6
        "ZY12BB": True,
    }
    for text, valid in texts.items():
        fits = any(t.fits(text) for layout in formats for t in layout.templates())
        assert fits is valid, text


def test_romanian_plates_start_with_a_county_code_and_red_plates_are_known() -> None:
    formats = shipped_book().select(["ro"])
    texts = {
        "PH73FAM": True,
        "B121PHD": True,
        "BI11TXS": False,  # BI: no county
        "B10IAB": False,  # the series never begins with I
        "SB014882": True,  # a red (temporary) plate: the county, 0, then a non-zero digit
        "B089414": True,
        "B109414": False,
    }
    for text, valid in texts.items():
        fits = any(t.fits(text) for layout in formats for t in layout.templates())
        assert fits is valid, text


def test_counts_expand_into_fixed_length_templates_per_line() -> None:
    layout = Layout("xx", 0, ("DD L{1,2}", "D{4,5}"))
    templates = layout.templates()
    assert sorted((len(t.lines[0]), len(t.lines[1])) for t in templates) == [
        (3, 4),
        (3, 5),
        (4, 4),
        (4, 5),
    ]
    assert all(t.format == "xx:0" for t in templates)


def test_a_template_fits_texts_position_by_position_and_knows_its_size() -> None:
    (template,) = Layout("sk", 0, ("LL DDD LL",)).templates()
    assert template.fits("BA268IM")
    assert not template.fits("BA2681M")
    assert not template.fits("BA268I")
    assert not template.generic
    assert Layout("us", 5, ("A{7}",)).templates()[0].generic
    assert template.log_size < Layout("us", 5, ("A{7}",)).templates()[0].log_size


def test_the_shipped_book_has_groups_of_known_regions_and_two_line_layouts() -> None:
    book = shipped_book()
    assert {"de", "nl", "hr", "sk", "se", "no"} <= set(book.groups["eu"])
    assert any(len(layout.lines) == 2 for layout in book.regions["vn"])
    # A site in the Americas reads California's plates with their own layout (the letter O).
    assert set(book.groups["us-states"]) <= set(book.groups["americas"])
    assert book.select(["eu"]) and all(
        layout.region in book.groups["eu"] for layout in book.select(["eu"])
    )
    with pytest.raises(ValueError, match="region must be one of any"):
        book.select(["atlantis"])


def test_a_group_naming_an_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="group 'xx' names unknown regions"):
        build_book({"aa": ["LL"]}, {"xx": ["aa", "bb"]})


def test_a_group_may_name_groups_but_not_itself() -> None:
    regions = {"aa": ["LL"], "bb": ["DD"], "cc": ["LD"]}
    book = build_book(regions, {"inner": ["bb", "cc"], "outer": ["aa", "inner", "cc"]})
    assert book.groups["outer"] == ("aa", "bb", "cc")
    assert [layout.region for layout in book.select(["outer"])] == ["aa", "bb", "cc"]
    with pytest.raises(ValueError, match="group 'xx' holds itself through xx -> yy"):
        build_book(regions, {"xx": ["aa", "yy"], "yy": ["xx"]})


def test_the_reader_keeps_reads_as_long_as_the_longest_shipped_layout() -> None:
    from edge.config import PpOcr

    formats = PlateFormats(Formats(region="any"))
    longest = max(
        sum(len(line) for line in template.lines)
        for lines in (1, 2)
        for template in formats.templates(lines)
    )
    assert PpOcr().max_chars == longest == 11


def test_band_templates_put_the_code_or_its_first_letter_before_a_layout() -> None:
    from edge.layouts import band_templates

    (template,) = Layout("ro", 0, ("[B] DD LLL",)).templates()
    banded = band_templates(template, ["RO"])
    assert [t.band for t in banded] == [2, 1]
    assert banded[0].positions[:3] == ("R", "O", "B") and banded[1].positions[:2] == ("R", "B")
    assert all(t.format == "ro:0" for t in banded)


def test_the_shipped_bands_name_known_regions_and_bad_ones_are_refused() -> None:
    from edge.layouts import check_bands, shipped_bands

    bands = shipped_bands()
    assert bands["ro"] == ("RO",) and bands["de"] == ("D",) and "us" not in bands
    with pytest.raises(ValueError, match="unknown region 'zz'"):
        check_bands({"zz": ["Z"]}, shipped_book())
    with pytest.raises(ValueError, match="codes of 1-3 letters"):
        check_bands({"de": ["d1"]}, shipped_book())


def test_the_shipped_aspects_give_each_region_its_plate_shape_and_bad_ones_are_refused() -> None:
    from edge.layouts import check_aspects, shipped_aspects

    aspects = shipped_aspects()
    # the eu group stands for its countries; US states share the country's 2:1 shape
    assert aspects["de"] == aspects["ro"] == (2.2, None)
    assert aspects["us"] == aspects["us-ca"] == (None, 3.0)
    assert "ar" not in aspects and "eu" not in aspects
    book = shipped_book()
    with pytest.raises(ValueError, match="unknown region or group 'zz'"):
        check_aspects({"zz": [1, 2]}, book)
    with pytest.raises(ValueError, match=r"must be \[fewest, most\]"):
        check_aspects({"de": [2.2]}, book)
    with pytest.raises(ValueError, match="needs a positive bound"):
        check_aspects({"de": [None, None]}, book)
    with pytest.raises(ValueError, match="must be below"):
        check_aspects({"de": [3, 2]}, book)
