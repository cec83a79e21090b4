"""The alerting stage's glue around the pure rule model of ``rules/``: the stateful engine
that evaluates reads against the rule book and the rule state tables, the alert topics, the
rule topic (publish, catch up, follow, history), the ``alpr rules`` commands and the bootstrap
step that publishes a rule directory.
"""
