"""The engine configuration and plate-format validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config import EngineConfig, Formats, PpOcr, TextPlates, load_engine_config
from edge.formats import PlateFormats, normalise


def test_defaults_pick_the_yolo_backends() -> None:
    config = EngineConfig()
    assert (config.vehicles.type, config.plates.type, config.ocr.type) == (
        "yolov8",
        "yolov8",
        "ppocr",
    )


def test_unknown_fields_and_out_of_range_values_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"plates\.yolov8\.colour"):
        EngineConfig.model_validate({"plates": {"type": "yolov8", "colour": "red"}})
    with pytest.raises(ValidationError, match=r"ocr.min_score\s+Input should be less than"):
        EngineConfig.model_validate({"ocr": {"min_score": 3}})


def test_the_type_field_selects_the_backend() -> None:
    config = EngineConfig.model_validate({"plates": {"type": "text"}, "vehicles": {"type": "none"}})
    assert isinstance(config.plates, TextPlates)
    assert config.vehicles.type == "none"


def test_bad_layouts_and_unknown_regions_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"layout xx:0: bad layout line '\[A-'"):
        Formats(regions={"xx": ["[A-"]})
    with pytest.raises(ValidationError, match="region 'zz' is not configured"):
        Formats(region="zz")
    with pytest.raises(ValidationError, match="region 'zz' is not configured"):
        Formats(region="eu,zz")


def test_engine_config_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text("formats:\n  region: cz\nocr:\n  stretch: 1.2\n", encoding="utf-8")
    config = load_engine_config(path)
    assert isinstance(config.ocr, PpOcr)
    assert (config.formats.region, config.ocr.stretch) == ("cz", 1.2)
    assert load_engine_config(None) == EngineConfig()


def test_the_recognizer_is_the_registrys_plate_ocr_ppocr_unless_registry_is_null(
    tmp_path: Path,
) -> None:
    assert PpOcr().registry == "plate-ocr-ppocr"
    path = tmp_path / "engine.yaml"
    path.write_text("ocr:\n  registry: null\n", encoding="utf-8")
    ocr = load_engine_config(path).ocr
    assert isinstance(ocr, PpOcr) and ocr.registry is None
    with pytest.raises(ValidationError, match=r"ocr\.ppocr\.registry"):
        EngineConfig.model_validate({"ocr": {"registry": ""}})


def test_normalise_upper_cases_and_drops_separators() -> None:
    assert normalise(" 5au 53-41 ") == "5AU5341"
    assert normalise("MH·12") == "MH12"


def test_formats_of_one_region_flag_reads_of_another() -> None:
    czech = PlateFormats(Formats(), "cz")
    assert czech.check("5AU5341").valid
    assert czech.check("5AU5341").format == "cz:0"
    assert not czech.check("AD799KB").valid
    assert czech.check("AD799KB").format is None


def test_any_region_accepts_a_format_of_every_region() -> None:
    formats = PlateFormats(Formats())
    assert formats.check("AD799KB").valid
    assert formats.check("MH12SH5901").format == "in:0"
    assert formats.check("60B615952").valid
    assert not formats.check("H14CS19381").valid


def test_a_group_enables_its_countries_and_a_text_gets_the_most_precise_layout() -> None:
    europe = PlateFormats(Formats(), "eu")
    assert europe.check("ZG1234AB").format in {"hr:0", "bg:0"}  # same shape: LL DDDD LL
    assert europe.check("BA268IM").valid
    assert not europe.check("MH12SH5901").valid
    # 'LL DDD LL' (Slovakia, Croatia) is more precise than Austria's 'L{1,2} A{3,6}'; France
    # and Italy issue no I.
    assert europe.check("BA268IM").format in {"hr:0", "sk:0", "sk:1"}
    assert europe.check("BA268CM").format in {"fr:0", "it:0", "hr:0", "sk:0", "sk:1"}


def test_a_site_adds_layouts_of_its_own_and_two_line_layouts_give_two_line_templates() -> None:
    formats = PlateFormats(Formats(regions={"xx": [["LL", "DDD"]]}), "xx")
    assert formats.check("AB123").format == "xx:0"
    (template,) = formats.templates(2)
    assert [len(line) for line in template.lines] == [2, 3]
    assert formats.templates(1) == []


def test_an_unknown_region_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="region must be one of any, americas, ar"):
        PlateFormats(Formats(), "zz")


def test_a_backend_section_without_a_type_takes_the_default_backend() -> None:
    config = EngineConfig.model_validate({"plates": {"search": "frame"}})
    assert (config.plates.type, config.plates.search) == ("yolov8", "frame")
    with pytest.raises(ValidationError, match=r"'yolo9'.*expected tags: 'yolov8', 'text'"):
        EngineConfig.model_validate({"plates": {"type": "yolo9"}})
