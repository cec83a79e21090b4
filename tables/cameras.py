"""The latest status and metadata of every camera, fed by the compacted ``alpr.cameras`` topic.

A global table: every worker holds every camera, since any worker may route any camera's
reads. The agent that fills it lives in ``agents.cameras``.
"""

from __future__ import annotations

from alpr import app
from streams.records import CameraStatus

cameras_by_id = app.GlobalTable(
    "cameras_by_id",
    key_type=str,
    value_type=CameraStatus,
    help="Latest CameraStatus by camera id (agents.cameras)",
)
