"""Rules built in Python: one rate rule per car-park level, which YAML would repeat."""

from rules.model import RateRule

LEVELS = ("level-1", "level-2", "level-3")


def rules() -> list[RateRule]:
    return [
        RateRule(
            type="rate",
            name=f"busy-{level}",
            per="camera",
            cameras=[f"{level}-ramp"],
            count=200,
            window=300,
            severity="info",
        )
        for level in LEVELS
    ]
