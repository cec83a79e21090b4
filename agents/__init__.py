"""The core's stages, one package each, found by the app's autodiscovery.

- ``router``: ``alpr.plates.raw`` -> ``alpr.plates.detected``, bad input -> ``alpr.dlq``;
- ``alerting``: rule feed, alert agents and engine, rule topic, notifier, ``alpr rules``;
- ``projections``: reads and alerts into PostgreSQL and Elasticsearch, rebuild, retention,
  ``alpr db``, ``alpr projections``, ``alpr retention``;
- ``deadletters``: building dead letters, reading and replaying them, ``alpr dlq``.

Beside them, what the stages share or what is too small for a package: ``topics`` (the
contract's topics in the app), ``emit`` (sending dead letters), ``metrics`` (the core's
Prometheus metrics) and ``metrics_view`` (``GET /metrics``), and ``cameras`` (the agent that
keeps each camera's latest status for the router and the web views).
"""
