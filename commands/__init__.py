"""The ``alpr`` command line beyond Faust's own commands.

Each stage declares its commands beside itself (``agents/alerting/cli.py``,
``agents/deadletters/cli.py`` ...), found by the app's autodiscovery. The edge is not
discovered (the core worker must not load it): :mod:`commands.edge` lists its commands by
name, and imports their module only when one of them runs.
"""
