"""PP-OCR's recognizer fine-tuned on plate lines (``alpr train ocr --base ppocr``): its ONNX
graph run in JAX, the lines cut as the engine cuts them, and a smoke fine-tuning whose
model the engine's PP-OCR reader loads unchanged and reads a real plate with (read from the
registry: test_default_recognizer.py; the smoke model is conftest's ``smoke_model``)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import EngineConfig, NoVehicles, PpOcr
from edge.engine.ocr import PpOcrReader, _to_tensor
from edge.engine.trained import trained_model
from edge.formats import PlateFormats
from edge.manifest import ModelStore
from edge.training.line_data import plate_lines, to_batch
from edge.training.ppocr import CHARSET, head_columns
from edge.training.synth import PlateSynth


@pytest.fixture(scope="module")
def base_model(model_store: ModelStore) -> Path:
    return model_store.verified("text_rec")


def test_the_graph_run_in_jax_computes_what_onnx_runtime_computes(
    base_model: Path, plate_crop: np.ndarray
) -> None:
    import onnxruntime

    from edge.training.onnx_jax import OnnxFunction

    batch = _to_tensor(plate_crop, 1.5, 192)[None]
    session = onnxruntime.InferenceSession(str(base_model), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {session.get_inputs()[0].name: batch})
    graph = OnnxFunction.load(base_model)
    got = np.asarray(graph(graph.params, batch))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert (got.argmax(-1) == expected.argmax(-1)).all()


def test_the_head_keeps_the_blank_the_plate_characters_and_the_space(base_model: Path) -> None:
    import onnx

    model = onnx.load(str(base_model))
    columns = head_columns(model)
    vocabulary = [
        "blank",
        *{p.key: p.value for p in model.metadata_props}["character"].splitlines(),
        " ",
    ]
    assert [vocabulary[c] for c in columns] == ["blank", *CHARSET, " "]


def test_lines_are_cut_as_the_engine_reads_them() -> None:
    """A one-line plate is one line at the reader's stretch; a two-line plate gives its top
    and bottom lines, unstretched, with their own texts."""
    synth = PlateSynth(("vn",), two_line_share=1.0)
    plate = synth.sample(random.Random(3))
    assert plate.lines == 2 and "".join(plate.parts) == plate.text
    bgr = cv2.cvtColor(plate.image, cv2.COLOR_RGB2BGR)
    lines = plate_lines(bgr, plate.parts, 1.5)
    assert [line.text for line in lines] == list(plate.parts)
    assert [line.stretch for line in lines] == [1.0, 1.0]
    assert sum(line.image.shape[0] for line in lines) == bgr.shape[0]
    (one,) = plate_lines(bgr, ("AB123CD",), 1.5)
    assert one.stretch == 1.5 and one.text == "AB123CD"
    batch = to_batch([*lines, one], CHARSET, 192)
    assert batch.images.shape[:3] == (3, 3, 48) and batch.images.shape[3] % 64 == 0
    assert batch.labels[2, :7].tolist() == [CHARSET.index(c) + 1 for c in "AB123CD"]
    assert batch.labels[2, 7:].tolist() == [0] * (batch.labels.shape[1] - 7)


def test_a_smoke_fine_tuning_writes_a_verified_model_with_its_card(smoke_model: Path) -> None:
    import onnx

    card = json.loads((smoke_model / "model.json").read_text())
    assert card["kind"] == "ppocr" and card["licence"].startswith("Apache-2.0")
    assert "PP-OCRv6" in card["licence"]
    assert card["lines_seen"] == 3 * 8
    assert card["figures"]["synthetic_lines"]["lines"] >= 32
    assert trained_model(smoke_model) == smoke_model / "model.onnx"
    model = onnx.load(str(smoke_model / "model.onnx"))
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["character"].splitlines() == list(CHARSET)


def test_the_engine_reads_a_real_plate_with_the_fine_tuned_model(
    smoke_model: Path, plate_crop: np.ndarray
) -> None:
    """The engine built from settings naming the folder loads it in its PP-OCR reader as it
    is (38 classes: blank, 0-9, A-Z, space) and reads the real plate; a few steps at a low
    learning rate keep what PP-OCR reads."""
    from edge.engine.factory import build_engine

    config = EngineConfig(vehicles=NoVehicles(), ocr=PpOcr(path=smoke_model))
    engine = build_engine(config)
    assert isinstance(engine.reader, PpOcrReader)
    assert engine.reader.alphabet.size == 1 + len(CHARSET) + 1
    reads = engine.reader.read([plate_crop], PlateFormats(config.formats))
    assert reads and reads[0].text == "AD799KB"
    probs = engine.reader.log_probs([(plate_crop, 1.5)])[0]
    assert probs.shape[1] == 1 + len(CHARSET)


def test_the_fine_tuning_command_refuses_options_of_the_slot_recognizer(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edge.cli import train_group

    result = CliRunner().invoke(
        train_group, ["ocr", "--base", "ppocr", "--real", str(tmp_path), "--no-evaluate"]
    )
    assert result.exit_code != 0
    assert "--real apply to --base slots only" in result.output


def test_the_fine_tuning_goes_on_from_a_fine_tuned_folder_with_init(
    smoke_model: Path, tmp_path: Path
) -> None:
    """`--init FOLDER` starts from that folder's model (checked by sha256) instead of
    PP-OCRv6: its 38-class head is kept as it is and the card names it as the base."""
    from click.testing import CliRunner

    from edge.cli import train_group
    from edge.manifest import sha256_of

    out = tmp_path / "again"
    args = ["ocr", "--base", "ppocr", "--init", str(smoke_model), "--out", str(out)]
    args += ["--steps", "1", "--batch", "4", "--regions", "de", "--no-evaluate"]
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model.json").read_text())
    assert card["base"]["sha256"] == sha256_of(smoke_model / "model.onnx")
    assert trained_model(out) == out / "model.onnx"
    # A folder whose model no longer matches its card is refused before any training.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not the model")
    (broken / "model.json").write_text((smoke_model / "model.json").read_text())
    args[args.index(str(smoke_model))] = str(broken)
    args[args.index(str(out))] = str(tmp_path / "never")
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code != 0
    assert not (tmp_path / "never" / "model.onnx").exists()
