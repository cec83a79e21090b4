"""An operator's correction of a read as a :class:`ReadCorrection`, checked before it is sent.

The new text is normalised exactly as the router normalises an edge's text (the same function
and the same length bounds from the ``router`` settings), so a corrected read's plate is one the
router could have produced, and a text the router would refuse is refused here with its reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from config.router import RouterSettings
from streams.plates import PlateTextError, normalise_plate
from streams.records import ReadCorrection

#: Most characters kept of a reason (the audit and the event carry it whole up to this).
MAX_REASON = 500
#: Most characters of the text as typed (separators included).
MAX_TEXT = 40


class CorrectionError(ValueError):
    """A correction that cannot be made; the message says which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def corrected_plate(text: object, router: RouterSettings) -> str:
    """The plate of the typed ``text``, normalised as the router would; CorrectionError if not."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise CorrectionError("text", f"text must be a plate of at most {MAX_TEXT} characters")
    try:
        return normalise_plate(
            text, min_length=router.plate_min_length, max_length=router.plate_max_length
        )
    except PlateTextError as exc:
        raise CorrectionError("text", str(exc)) from None


def checked_reason(reason: object) -> str:
    """The reason, trimmed; CorrectionError unless it is 3 to MAX_REASON characters of text."""
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= MAX_REASON:
        raise CorrectionError("reason", f"reason must be 3 to {MAX_REASON} characters of text")
    return reason.strip()


def make_correction(
    *,
    event_id: str,
    captured_at: datetime,
    old_text: str,
    text: object,
    reason: object,
    key_id: str,
    owner: str,
    router: RouterSettings,
    plate_crop_key: str | None = None,
    now: datetime | None = None,
) -> ReadCorrection:
    """The correction of read ``event_id`` to ``text``; CorrectionError when the text or reason
    is refused, or the text reads as the plate the read already has."""
    plate = corrected_plate(text, router)
    if plate == old_text:
        raise CorrectionError("text", f"the read already reads {plate!r}")
    assert isinstance(text, str)  # corrected_plate refused anything else
    return ReadCorrection(
        correction_id=str(uuid.uuid4()),
        event_id=event_id,
        captured_at=captured_at,
        old_text=old_text,
        new_text=text.strip(),
        new_plate=plate,
        reason=checked_reason(reason),
        key_id=key_id,
        owner=owner,
        corrected_at=now or datetime.now(UTC),
        plate_crop_key=plate_crop_key,
    )
