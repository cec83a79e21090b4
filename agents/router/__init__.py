"""The router stage: ``alpr.plates.raw`` -> ``alpr.plates.detected`` (bad input -> ``alpr.dlq``).

``service`` runs it as a batch consumer of the worker, with its dedupe state and the order of
sends and commits; ``routing`` is one raw event's way (decode, validate, normalise, dedupe,
enrich); ``validation`` holds the checks of an event's fields. Its settings are the ``router``
section of the settings tree (``config.router``).
"""
