"""The projections stage: every read of ``alpr.plates.detected`` and every alert written into
the query stores (PostgreSQL/TimescaleDB, Elasticsearch), and what keeps those stores.

``common`` is what the read projections share (a batch consumer of their own per store,
decoding, dead letters, metrics); ``pg`` and ``es`` are one store each; ``alerts`` stores
alerts, and operators' assignments and acknowledgements of them, in PostgreSQL; ``rebuild``
refills the stores by replay; ``retention`` expires old reads (its timer and
``alpr retention run``); ``cli`` holds ``alpr db migrate``, ``alpr projections rebuild`` and
the stores' bootstrap steps.
"""
