"""CTC decoding constrained to plate templates: the format decides look-alike characters.

The recognizer gives, per time step, a probability for the CTC blank and for each plate
character. Greedy decoding takes the best class at every step; a plate's format knows more:
in ``LL DDD LL`` the third position is a digit, so a step that reads ``I`` 0.6 / ``1`` 0.35
there must be ``1``. :func:`decode_templates` finds, for every template at once, the most
probable CTC path whose characters fit the template (Viterbi over the CTC lattice with one
state per template position and character), over all templates at once. The pass is
compiled with numba: in numpy, each step cost some twenty calls whose overhead was most of
the decoder's time (17 -> 3 ms per 1080p frame of the bench). The first decode in a fresh
install compiles it (about 2 s, cached: see ``compiled``); later processes load it (about
0.5 s with numba's import, begun in the background while the engine's models compile: see
:func:`load_in_background`).

Runs of steps where the blank is near-certain are folded into one step first: they cannot
hold a character on any likely path, and the fold shortens the lattice three- to five-fold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

#: Steps whose blank probability is at least this are folded into their run's one step.
FOLD_BLANK = 0.995
NEG = -1e9
#: Characters whose probability stays below this at every step play no part in any path
#: worth finding; leaving them out shrinks the lattice several-fold.
IN_PLAY = 1e-3

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LineDecode:
    """The best path of one template line: its text, log-probability and per-character
    confidences (the highest probability of each character over its steps)."""

    text: str
    log_prob: float
    confidences: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return float(np.mean(self.confidences)) if self.confidences else 0.0


def fold_blanks(log_probs: FloatArray) -> tuple[FloatArray, float]:
    """Steps with the blank near-certain folded: the kept steps and the folded log-mass.

    ``log_probs`` has shape (steps, 1 + characters), the blank first. Of each run of
    near-blank steps one is kept (the one most likely to hold a character), so paths that
    need a blank between two equal characters still exist.
    """
    blank_run = log_probs[:, 0] >= np.log(FOLD_BLANK)
    keep = np.ones(len(log_probs), bool)
    offset = 0.0
    start = None
    for step in range(len(log_probs) + 1):
        inside = step < len(log_probs) and blank_run[step]
        if inside and start is None:
            start = step
        elif not inside and start is not None:
            run = np.arange(start, step)
            best = run[np.argmin(log_probs[run, 0])]
            for other in run:
                if other != best:
                    keep[other] = False
                    offset += float(log_probs[other, 0])
            start = None
    return log_probs[keep], offset


def greedy(log_probs: FloatArray, charset: str) -> LineDecode:
    """Unconstrained best path: the best class per step, repeats and blanks collapsed."""
    best = log_probs.argmax(axis=1)
    chars: list[str] = []
    confidences: list[float] = []
    previous = -1
    for step, choice in enumerate(best):
        if choice != 0 and choice != previous:
            chars.append(charset[choice - 1])
            confidences.append(float(np.exp(log_probs[step, choice])))
        elif choice != 0 and confidences:
            confidences[-1] = max(confidences[-1], float(np.exp(log_probs[step, choice])))
        previous = int(choice)
    return LineDecode("".join(chars), float(log_probs.max(axis=1).sum()), tuple(confidences))


def decode_templates(
    log_probs: FloatArray, charset: str, templates: Sequence[tuple[str, ...]]
) -> list[LineDecode | None]:
    """The best path of ``log_probs`` (steps, 1 + len(charset)) fitting each template.

    A template is one string of allowed characters per position. ``None`` for a template
    that cannot fit (more positions than steps).
    """
    lattice = score_templates(log_probs, charset, templates)
    return [lattice.decode(i) for i in range(len(templates))]


def score_templates(
    log_probs: FloatArray, charset: str, templates: Sequence[tuple[str, ...]]
) -> Lattice:
    """The best-path log-probability of every template at once (``Lattice.scores``); the
    text of a template's path is traced only when asked for (``Lattice.decode``)."""
    if log_probs.ndim != 2 or log_probs.shape[1] != len(charset) + 1:
        raise ValueError(
            f"log_probs must have shape (steps, {len(charset) + 1}), got {log_probs.shape}"
        )
    if not templates:
        raise ValueError("templates must not be empty")
    keep = _characters_in_play(log_probs, charset, templates)
    log_probs = log_probs[:, [0, *(i + 1 for i in keep)]]
    grid = _template_grid(charset, tuple(templates))
    charset = "".join(charset[i] for i in keep)
    return _viterbi(log_probs, charset, templates, grid.allowed[:, keep], grid.parent, grid.ends)


@dataclass(frozen=True)
class _TemplateGrid:
    """The templates' positions as a trie of lattice rows (templates that begin alike share
    their first rows: four to five times fewer rows over all regions' layouts): the
    characters each row allows (over the whole charset), each row's parent (-1 for a
    template's first position) and the row where each template ends."""

    allowed: npt.NDArray[np.bool_]
    parent: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]


@lru_cache(maxsize=512)
def _template_grid(charset: str, templates: tuple[tuple[str, ...], ...]) -> _TemplateGrid:
    """The rows of ``templates`` (cached: a site decodes against the same few lists)."""
    if any(len(t) == 0 for t in templates):
        raise ValueError("templates must have at least one position")
    index = {char: i for i, char in enumerate(charset)}
    rows: dict[tuple[str, ...], int] = {}
    parents: list[int] = []
    ends = []
    for template in templates:
        for length in range(1, len(template) + 1):
            if template[:length] not in rows:
                rows[template[:length]] = len(parents)
                parents.append(rows[template[: length - 1]] if length > 1 else -1)
        ends.append(rows[template])
    allowed = np.zeros((len(rows), len(charset)), bool)
    for prefix, row in rows.items():
        allowed[row, [index[c] for c in prefix[-1] if c in index]] = True
    grid = _TemplateGrid(allowed, np.asarray(parents, np.intp), np.asarray(ends, np.intp))
    for array in (grid.allowed, grid.parent, grid.ends):
        array.flags.writeable = False
    return grid


def _characters_in_play(
    log_probs: FloatArray, charset: str, templates: Sequence[tuple[str, ...]]
) -> list[int]:
    """Characters any likely path may use: those above :data:`IN_PLAY` at some step, plus
    the likeliest of each allowed set (a position must hold something)."""
    peaks = log_probs[:, 1:].max(axis=0)
    keep = set(np.flatnonzero(peaks >= np.log(IN_PLAY)).tolist())
    index = {char: i for i, char in enumerate(charset)}
    for chars in {chars for template in templates for chars in template}:
        members = [index[c] for c in chars if c in index]
        if members and not keep.intersection(members):
            keep.add(max(members, key=lambda i: peaks[i]))
    return sorted(keep)


def _viterbi(
    log_probs: FloatArray,
    charset: str,
    templates: Sequence[tuple[str, ...]],
    allowed: npt.NDArray[np.bool_],
    parent: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
) -> Lattice:
    blank = np.ascontiguousarray(log_probs[:, 0])
    chars = np.ascontiguousarray(log_probs[:, 1:])
    emit_mask = np.ascontiguousarray(np.where(allowed, 0.0, NEG))
    end, final, v_stay, v_from_prev, pre_from_v, end_from_v, best_args, second_args = (
        compiled_pass()(blank, chars, emit_mask, parent, ends)
    )
    return Lattice(
        log_probs,
        charset,
        templates,
        ends,
        end,
        final,
        v_stay,
        v_from_prev,
        pre_from_v,
        end_from_v,
        best_args,
        second_args,
        parent,
    )


#: Held while the pass compiles: a decode waits for the background load, not a second one.
_COMPILING = threading.Lock()


def compiled_pass() -> Any:
    """:func:`_viterbi_pass` compiled (loaded from numba's cache when it is there): numba's
    import and the load take about half a second, so the engine starts it in the background
    (:func:`load_in_background`) while its models compile."""
    with _COMPILING:
        return _compile_pass()


@lru_cache(maxsize=1)
def _compile_pass() -> Any:
    from edge.engine.compiled import numba

    compiled = numba.njit(cache=True, nogil=True)(_viterbi_pass)
    # The first call compiles or loads the machine code for the argument types of
    # _viterbi's calls (the template grid's arrays are read-only).
    parent, ends = np.array([-1], np.intp), np.array([0], np.intp)
    parent.flags.writeable = ends.flags.writeable = False
    compiled(np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1)), parent, ends)
    return compiled


def load_in_background() -> None:
    """Start loading the compiled pass on a thread of its own (see :func:`compiled_pass`)."""
    threading.Thread(target=compiled_pass, name="compile-viterbi", daemon=True).start()


def _viterbi_pass(
    blank: FloatArray,
    chars: FloatArray,
    emit_mask: FloatArray,
    parent: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
) -> tuple[Any, ...]:
    """The Viterbi pass over the template rows (compiled, see the module's docstring).

    States: ``v[r, c]``, the best path ending on row ``r`` reading character ``c``;
    ``pre[r]``, the best path in a blank just before row ``r`` (after its parent); ``end[i]``,
    in a blank after template ``i``'s last row. Per step it records, for the trace, whether
    a state's path stayed on its character (``v_stay``), entered from the previous position
    rather than the blank before it (``v_from_prev``), and each row's best and second-best
    character (``best_args``, ``second_args``). Re-reading the parent row's own character
    needs a blank between, so entering on that character takes the parent's second best.
    """
    steps = blank.shape[0]
    rows, width = emit_mask.shape
    templates = ends.shape[0]
    v = np.empty((rows, width))
    pre = np.empty(rows)
    for r in range(rows):
        first = parent[r] < 0
        for c in range(width):
            v[r, c] = chars[0, c] + emit_mask[r, c] if first else NEG
        pre[r] = blank[0] if first else NEG
    end = np.full(templates, NEG)
    v_stay = np.zeros((steps, rows, width), np.bool_)
    v_from_prev = np.zeros((steps, rows, width), np.bool_)
    pre_from_v = np.zeros((steps, rows), np.bool_)
    end_from_v = np.zeros((steps, templates), np.bool_)
    best_args = np.zeros((steps, rows), np.intp)
    second_args = np.zeros((steps, rows), np.intp)
    # Each row's best and second best, with a last entry (NEG) that a first position's
    # parent points at: nothing enters a template's first position from before it.
    top = np.full(rows + 1, NEG)
    second = np.full(rows + 1, NEG)
    for step in range(1, steps + 1):
        for r in range(rows):
            best, best_value = 0, v[r, 0]
            for c in range(1, width):
                if v[r, c] > best_value:
                    best, best_value = c, v[r, c]
            best_args[step - 1, r] = best
            top[r] = best_value
            if step == steps:
                continue
            # The second best: the first largest with the best put aside (as NEG).
            runner, runner_value = 0, NEG if best == 0 else v[r, 0]
            for c in range(1, width):
                value = NEG if c == best else v[r, c]
                if value > runner_value:
                    runner, runner_value = c, value
            second_args[step - 1, r] = runner
            second[r] = runner_value
        if step == steps:
            break
        for r in range(rows):
            source = rows if parent[r] < 0 else parent[r]
            prev_top, prev_second = top[source], second[source]
            taken = best_args[step - 1, max(parent[r], 0)]
            before = pre[r]
            for c in range(width):
                entering = prev_second if c == taken else prev_top
                v_from_prev[step, r, c] = entering > before
                entered = max(entering, before)
                v_stay[step, r, c] = v[r, c] >= entered
                v[r, c] = max(v[r, c], entered) + (chars[step, c] + emit_mask[r, c])
            pre_from_v[step, r] = prev_top > before
            pre[r] = max(before, prev_top) + blank[step]
        for i in range(templates):
            ended = top[ends[i]]
            end_from_v[step, i] = ended > end[i]
            end[i] = max(end[i], ended) + blank[step]
    final = top[:rows].copy()
    return end, final, v_stay, v_from_prev, pre_from_v, end_from_v, best_args, second_args


@dataclass(frozen=True)
class Lattice:
    """The Viterbi pass over a set of templates: every template's score, and the
    back-pointers to trace the path of any of them."""

    log_probs: FloatArray
    charset: str
    templates: Sequence[tuple[str, ...]]
    ends: npt.NDArray[np.intp]
    end: FloatArray
    final: FloatArray
    v_stay: npt.NDArray[np.bool_]
    v_from_prev: npt.NDArray[np.bool_]
    pre_from_v: npt.NDArray[np.bool_]
    end_from_v: npt.NDArray[np.bool_]
    best_args: npt.NDArray[np.intp]
    second_args: npt.NDArray[np.intp]
    parent: npt.NDArray[np.intp]

    @property
    def scores(self) -> npt.NDArray[np.float64]:
        """Each template's best-path log-probability; -inf where it cannot fit."""
        best = np.maximum(self.end, self.final[self.ends]).astype(np.float64)
        return np.where(best > NEG / 2, best, -np.inf)

    def decode(self, template: int) -> LineDecode | None:
        """The text and confidences of one template's best path."""
        last = int(self.ends[template])
        score = max(float(self.end[template]), float(self.final[last]))
        if score <= NEG / 2:
            return None
        path = self._trace(template, float(self.end[template]) >= float(self.final[last]))
        text = "".join(self.charset[c] for _, c in path)
        return LineDecode(text, score, self._confidences(path))

    def _trace(self, template: int, in_end_blank: bool) -> list[tuple[int, int]]:
        """The (step, character) where each position of the template's best path starts."""
        last = int(self.ends[template])
        step = len(self.log_probs) - 1
        row = last
        state = "end" if in_end_blank else "v"
        char = -1 if in_end_blank else int(self.best_args[step, row])
        starts: list[tuple[int, int]] = []
        while step >= 0:
            if state == "end":
                if self.end_from_v[step, template]:
                    state, char = "v", int(self.best_args[step - 1, last])
            elif state == "pre":
                if step > 0 and self.pre_from_v[step, row]:
                    row = int(self.parent[row])
                    state, char = "v", int(self.best_args[step - 1, row])
            elif step == 0:
                starts.append((step, char))
            else:
                stayed = bool(self.v_stay[step, row, char])
                if not stayed:  # this position starts here, after a blank or the previous one
                    starts.append((step, char))
                if stayed:
                    pass
                elif not self.v_from_prev[step, row, char]:
                    state = "pre"
                else:
                    row = int(self.parent[row])
                    arg = int(self.best_args[step - 1, row])
                    char = int(self.second_args[step - 1, row]) if arg == char else arg
            step -= 1
        starts.reverse()
        if len(starts) != len(self.templates[template]):
            raise AssertionError(
                f"traceback found {len(starts)} of {len(self.templates[template])}"
            )
        return starts

    def _confidences(self, path: list[tuple[int, int]]) -> tuple[float, ...]:
        """Each character's highest probability over the steps it holds (from its start on)."""
        stops = [start for start, _ in path[1:]] + [len(self.log_probs)]
        return tuple(
            float(np.exp(self.log_probs[start:stop, char + 1].max()))
            for (start, char), stop in zip(path, stops, strict=True)
        )
