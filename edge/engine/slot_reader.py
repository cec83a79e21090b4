"""Plate text recognition with the project's own slot recognizer (``alpr train ocr``).

The model reads a whole plate crop, one line or two, in one pass and answers a probability
per class for each character slot (:mod:`edge.engine.slots_input`). Decoding takes every
template of the enabled layouts, one- and two-line, as a fixed sequence of slots: the
template's score is the best allowed class at each of its positions plus the pad after its
last one. The free reading (the best class per slot) and the template choice follow the
same rule as the PP-OCR decoder (:func:`edge.engine.decoder.choose_template`), so a site's
``specificity`` and ``max_bend`` mean the same whichever recognizer runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from edge.config import SlotOcr
from edge.engine.decoder import TextRead, choose_template
from edge.engine.geometry import Image
from edge.engine.ocr import PlateReader
from edge.engine.runtime import Backend, open_session
from edge.engine.slots_input import SlotSpec
from edge.formats import PlateFormats
from edge.layouts import Template

#: Floor of a probability before its log: a class the model rules out costs this much.
LOG_FLOOR = float(np.log(1e-6))


class SlotReader(PlateReader):
    """The slot recognizer through ONNX Runtime, decoded against the plate layouts."""

    def __init__(self, model: Path, config: SlotOcr, backend: Backend | None = None) -> None:
        self.config = config
        self.session = open_session(model, backend)
        self.input_name = self.session.get_inputs()[0].name
        self.spec = spec_of(self.session.get_modelmeta().custom_metadata_map, model)

    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        return self.read_many([crops], formats)[0]

    def read_many(
        self, plates: Sequence[Sequence[Image]], formats: PlateFormats
    ) -> list[list[TextRead]]:
        """Every plate's first ``crops`` crops in one batch, each decoded; the candidates
        per plate in the order of its crops."""
        jobs = [
            [c for c in crops if c.shape[0] >= 4 and c.shape[1] >= 4][: self.config.crops]
            for crops in plates
        ]
        flat = [crop for crops in jobs for crop in crops]
        if not flat:
            return [[] for _ in plates]
        probs = self.probabilities(flat)
        reads: list[list[TextRead]] = []
        at = 0
        for crops in jobs:
            found = [decode_slots(p, self.spec, formats) for p in probs[at : at + len(crops)]]
            at += len(crops)
            reads.append(
                [
                    r
                    for r in found
                    if len(r.text) >= self.config.min_chars
                    and r.confidence >= self.config.min_score
                ]
            )
        return reads

    def probabilities(self, crops: Sequence[Image]) -> np.ndarray:
        """(N, slots, classes) probabilities of the crops."""
        (output,) = self.session.run(None, {self.input_name: self.spec.to_input(crops)})
        return np.asarray(output, np.float32)


def spec_of(metadata: dict[str, str], model: Path) -> SlotSpec:
    """The :class:`SlotSpec` a model file carries in its metadata."""
    try:
        fields = json.loads(metadata["slot_spec"])
        return SlotSpec(alphabet=metadata["alphabet"], **fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{model} is not a slot recognizer: its metadata lacks a valid slot_spec and "
            f"alphabet ({exc})"
        ) from exc


@dataclass(frozen=True)
class _Masks:
    """Every enabled template as allowed-class masks over the slots, for one formats."""

    templates: tuple[Template, ...]
    allowed: np.ndarray  # (T, slots, classes) bool
    log_sizes: np.ndarray  # (T,) float64, each template's Template.log_size


@lru_cache(maxsize=16)
def _masks(formats: PlateFormats, spec: SlotSpec) -> _Masks:
    pad = len(spec.alphabet)
    templates = tuple(
        t
        for lines in (1, 2)
        for t in formats.templates(lines)
        if t.length <= spec.slots and all(set(p) & set(spec.alphabet) for p in t.positions)
    )
    allowed = np.zeros((len(templates), spec.slots, spec.classes), bool)
    index = {c: i for i, c in enumerate(spec.alphabet)}
    for row, template in enumerate(templates):
        for slot, chars in enumerate(template.positions):
            allowed[row, slot, [index[c] for c in chars if c in index]] = True
        allowed[row, template.length :, pad] = True
    return _Masks(templates, allowed, np.array([t.log_size for t in templates], np.float64))


def decode_slots(probs: np.ndarray, spec: SlotSpec, formats: PlateFormats) -> TextRead:
    """The plate text of one (slots, classes) probability array."""
    log_probs = np.maximum(np.log(np.maximum(probs, 1e-12)), LOG_FLOOR)
    free_classes = log_probs.argmax(axis=1)
    free_score = float(log_probs.max(axis=1).sum())
    masks = _masks(formats, spec)
    if masks.templates:
        limited = np.where(masks.allowed, log_probs[None], -np.inf)
        scores = limited.max(axis=2).sum(axis=1)
        bends = scores.astype(np.float64) - free_score
        template = choose_template(masks.templates, bends, masks.log_sizes, formats.config)
        if template is not None:
            row = masks.templates.index(template)
            classes = limited[row].argmax(axis=1)[: template.length]
            text = "".join(spec.alphabet[c] for c in classes)
            confidence = _mean(probs[np.arange(template.length), classes])
            lines = len(template.lines)
            return TextRead(text, confidence, lines, True, template.format, not template.generic)
    pad = len(spec.alphabet)
    kept = [(slot, c) for slot, c in enumerate(free_classes) if c != pad]
    text = "".join(spec.alphabet[c] for _, c in kept)
    check = formats.check(text)
    confidence = _mean(np.array([probs[slot, c] for slot, c in kept]))
    return TextRead(text, confidence, 1, check.valid, check.format)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0
