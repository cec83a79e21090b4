"""A recognizer measured on the project's evaluation sets, beside the engine's current one.

Both run through the same engine and harness (:mod:`edge.evaluation.accuracy`); only the
``ocr`` section differs. Figures per set: plates, exact reads (rate), character error rate,
two-line plates and how many of them were read exactly, and milliseconds per image.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.config import EngineConfig, PpOcr, SlotOcr
from edge.engine.trained import CARD_FILE
from edge.evaluation.accuracy import Runner, Tally, evaluate_set
from edge.evaluation.sets import EvaluationSet

Figures = dict[str, dict[str, float]]


def read_figures(texts: Sequence[str], truths: Sequence[str]) -> dict[str, float]:
    """Exact reads (count and rate) and character error rate of ``texts`` against
    ``truths``: a trainer's validation figures."""
    from edge.evaluation.labels import edit_distance

    exact = sum(t == truth for t, truth in zip(texts, truths, strict=True))
    errors = sum(edit_distance(t, truth) for t, truth in zip(texts, truths, strict=True))
    return {
        "exact": float(exact),
        "exact_rate": exact / len(texts),
        "cer": errors / max(1, sum(len(t) for t in truths)),
    }


def figures_of(tally: Tally) -> dict[str, float]:
    """One set's figures from its tally."""
    two = [o for o in tally.outcomes if (o.label.lines or 1) == 2]
    return {
        "plates": tally.plates,
        "exact": tally.exact,
        "exact_rate": round(tally.accuracy, 4),
        "cer": round(tally.cer, 4),
        "two_line_plates": len(two),
        "two_line_exact": sum(o.exact for o in two),
        "ms_per_image": round(statistics.median(tally.ms), 1) if tally.ms else 0.0,
    }


def with_model(base: EngineConfig, model: Path) -> EngineConfig:
    """``base`` reading with the trained model in folder ``model``: a fine-tuned PP-OCR
    recognizer (card kind ``ppocr``) in ``base``'s PP-OCR reader settings, else the slot
    recognizer."""
    card = json.loads((model / CARD_FILE).read_text(encoding="utf-8"))
    if card.get("kind") == "ppocr":
        ocr = base.ocr if isinstance(base.ocr, PpOcr) else PpOcr()
        return base.model_copy(update={"ocr": ocr.model_copy(update={"path": model})})
    return base.model_copy(update={"ocr": SlotOcr(path=model)})


def evaluate(configs: dict[str, EngineConfig], sets: list[EvaluationSet]) -> dict[str, Figures]:
    """Figures per configuration name and set; every configuration sees the same images."""
    results: dict[str, Figures] = {name: {} for name in configs}
    for at_box in (False, True):
        chosen = [s for s in sets if s.at_box == at_box]
        if not chosen:
            continue
        runners = [Runner(config, None, at_box, name) for name, config in configs.items()]
        for evaluation_set in chosen:
            tallies = evaluate_set(evaluation_set.folder, runners)
            for runner, tally in zip(runners, tallies, strict=True):
                results[runner.name][evaluation_set.name] = figures_of(tally)
    return results


def comparison_lines(results: dict[str, Figures]) -> list[str]:
    """A table, one row per set and configuration."""
    lines = [
        f"{'set':14} {'reader':10} {'plates':>6} {'exact':>7} {'cer':>6} {'2-line':>7} {'ms':>7}"
    ]
    names = list(results)
    for set_name in results[names[0]]:
        for name in names:
            f: dict[str, Any] = results[name][set_name]
            two = f"{f['two_line_exact']:.0f}/{f['two_line_plates']:.0f}"
            lines.append(
                f"{set_name:14} {name:10} {f['plates']:6.0f} {f['exact_rate']:7.1%} "
                f"{f['cer']:6.3f} {two:>7} {f['ms_per_image']:7.1f}"
            )
    return lines
