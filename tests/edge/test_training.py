"""The project's own plate recognizer: slot conventions, synthetic plates, decoding against
the layouts, the ONNX export, and a smoke training whose model the engine then reads with."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.config import EngineConfig, Formats, NoVehicles, SlotOcr
from edge.engine.slot_reader import SlotReader, decode_slots
from edge.engine.slots_input import ALPHABET, SlotSpec
from edge.engine.trained import trained_model
from edge.formats import PlateFormats
from edge.manifest import ChecksumError
from edge.training.data import synthetic_batch
from edge.training.synth import PlateSynth

SPEC = SlotSpec()


def _probs(text: str, sure: float = 0.9) -> np.ndarray:
    """A model output that reads ``text`` with ``sure`` probability per slot."""
    rest = (1.0 - sure) / (SPEC.classes - 1)
    probs = np.full((SPEC.slots, SPEC.classes), rest, np.float32)
    for slot, cls in enumerate(SPEC.encode(text)):
        probs[slot, cls] = sure
    return probs


def test_a_plate_is_encoded_into_slots_padded_after_its_last_character() -> None:
    classes = SPEC.encode("AB12")
    assert classes.tolist()[:5] == [10, 11, 1, 2, len(ALPHABET)]
    assert SPEC.decode(classes) == "AB12"
    with pytest.raises(ValueError, match="more than 10"):
        SPEC.encode("A" * 11)
    with pytest.raises(ValueError, match="outside the alphabet"):
        SPEC.encode("AB-12")


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"height": 50}, "height"), ({"width": 20}, "width"), ({"slots": 0}, "slots")],
)
def test_a_slot_spec_out_of_bounds_is_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SlotSpec(**fields)


def test_crops_of_any_size_become_the_models_input_in_minus_one_to_one() -> None:
    crops = [np.zeros((20, 90, 3), np.uint8), np.full((200, 300), 255, np.uint8)]
    batch = SPEC.to_input(crops)
    assert batch.shape == (2, 1, SPEC.height, SPEC.width)
    assert batch[0].max() == -1.0 and batch[1].min() == 1.0


def test_decoding_settles_a_look_alike_on_the_layout_of_the_region() -> None:
    """A German plate's second character read as 8 rather than B (no German layout has a
    single letter before the digits) becomes the letter, the runner-up."""
    probs = _probs("M81234")
    probs[1, ALPHABET.index("B")] = 0.08
    formats = PlateFormats(Formats(region="de"))
    read = decode_slots(probs, SPEC, formats)
    assert read.text == "MB1234"
    assert read.valid and read.format and read.format.startswith("de")


def test_a_two_line_plate_is_read_in_one_pass_and_reported_as_two_lines() -> None:
    formats = PlateFormats(Formats(region="vn"))
    read = decode_slots(_probs("29B112345"), SPEC, formats)
    assert (read.text, read.lines) == ("29B112345", 2)


def test_without_layouts_the_free_reading_is_kept_and_judged_by_the_formats() -> None:
    formats = PlateFormats(Formats(region="de"))
    read = decode_slots(_probs("12"), SPEC, formats)
    # No German layout is two characters long: the reading is kept as read, flagged invalid.
    assert (read.text, read.valid, read.format) == ("12", False, None)
    assert read.confidence == pytest.approx(0.9)


def test_synthetic_plates_are_the_same_for_the_same_seed_and_fit_the_slots() -> None:
    first = synthetic_batch(7, 6, SPEC, ("any",), 0.5)
    again = synthetic_batch(7, 6, SPEC, ("any",), 0.5)
    assert first.texts == again.texts
    assert np.array_equal(first.images, again.images)
    assert first.images.shape == (6, 1, SPEC.height, SPEC.width)
    assert all(1 <= len(t) <= SPEC.slots for t in first.texts)
    assert [SPEC.decode(row) for row in first.labels] == list(first.texts)


@pytest.mark.parametrize(("region", "two_line_share"), [("br", 0.0), ("in", 0.5)])
def test_synthetic_plates_follow_the_layouts_of_the_chosen_region(
    region: str, two_line_share: float
) -> None:
    # Indian plates start with a state code: a word set, drawn as one of its words.
    synth = PlateSynth((region,), two_line_share=two_line_share)
    formats = PlateFormats(Formats(region=region))
    rng = random.Random(3)
    for _ in range(20):
        plate = synth.sample(rng)
        assert plate.lines == 1 or two_line_share > 0
        assert formats.check(plate.text).valid, plate.text
        assert plate.image.ndim == 3 and plate.image.shape[2] == 3


def test_the_onnx_export_computes_what_the_jax_model_computes(tmp_path: Path) -> None:
    import jax

    from edge.engine.runtime import Backend, open_session
    from edge.training import model as net
    from edge.training.export import to_onnx

    params = net.init_params(SPEC, seed=1)
    path = tmp_path / "model.onnx"
    to_onnx(params, SPEC, path, {"producer": "test"})
    images = synthetic_batch(1, 4, SPEC, ("any",), 0.3).images
    expected = np.asarray(jax.nn.softmax(net.logits(params, images.transpose(0, 2, 3, 1), SPEC)))
    session = open_session(path, Backend(threads=1, allow_gpu=False, runtime="onnxruntime"))
    (got,) = session.run(None, {session.get_inputs()[0].name: images})
    assert got.shape == (4, SPEC.slots, SPEC.classes)
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for a few steps on a few hundred synthetic plates (the CI smoke run)."""
    from edge.training.train import TrainSettings, train

    out = tmp_path_factory.mktemp("smoke") / "plate-ocr"
    settings = TrainSettings(
        out=out, steps=6, batch=32, validate_every=3, synthetic_validation=64, workers=0
    )
    seen: list[int] = []
    train(settings, lambda step, figures: seen.append(step))
    assert seen[-1] == 6
    return out


def test_a_smoke_training_writes_a_verified_model_with_its_card(smoke_model: Path) -> None:
    card = json.loads((smoke_model / "model.json").read_text())
    assert card["kind"] == "slots" and card["licence"].startswith("Apache-2.0")
    assert card["plates_seen"] == 6 * 32
    assert card["figures"]["synthetic"]["plates"] == 64
    assert card["sources"]["synthetic"]["fonts"]
    assert trained_model(smoke_model) == smoke_model / "model.onnx"
    assert (smoke_model / "params.npz").is_file()


def test_a_model_whose_file_differs_from_its_card_is_refused(
    smoke_model: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(smoke_model, copy)
    with (copy / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ChecksumError):
        trained_model(copy)
    with pytest.raises(FileNotFoundError, match=r"model\.json"):
        trained_model(tmp_path)


def test_the_engine_reads_a_plate_with_the_trained_model(smoke_model: Path) -> None:
    """Built from settings like a site's, the engine runs the model end to end on a plate
    crop and answers a reading decoded against the layouts (a smoke model reads poorly;
    what is checked is the path, not the text)."""
    from edge.engine.factory import build_engine

    config = EngineConfig(vehicles=NoVehicles(), ocr=SlotOcr(path=smoke_model, min_score=0.0))
    engine = build_engine(config)
    assert isinstance(engine.reader, SlotReader)
    plate = synthetic_batch(5, 1, SPEC, ("de",), 0.0)
    crop = ((plate.images[0, 0] + 1.0) * 127.5).astype(np.uint8)
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[80:144, 80:240] = crop[:, :, None]
    read = engine.read_at(frame, (80, 80, 240, 144), 1.0, None)
    assert read is not None
    assert 3 <= len(read.text) <= SPEC.slots
    assert set(read.text) <= set(ALPHABET)
