"""Publishing what the cameras saw: PlateEvents and CameraStatus to Kafka, crops to S3.

Everything goes through a disk spool first and is sent from there in order, so an outage of
the broker, the registry or the object store, or a restart of the edge worker, loses
nothing; delivery is at least once and consumers deduplicate on the event's id.
"""
