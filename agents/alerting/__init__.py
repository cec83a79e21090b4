"""The alerting stage: the reads some rule needs -> alerts on ``alpr.alerts`` -> the people the
rules name. It is the stateful side of the pure rule model of ``rules/``.

``feed`` forwards, in bundles (``bundles``), the reads of ``alpr.plates.detected`` that a rule
can act on; ``alerts`` holds the alert agents and timers, which run ``engine`` (evaluation
against the rule book and the rule state tables); ``rule_book`` keeps every worker's rule
book in step with the rule topic (``rule_topic``: publish, catch up, follow, history);
``notifier`` delivers each alert to its rule's actions (the channels of ``notify/``);
``topics`` declares the alert topics; ``cli`` holds the ``alpr rules`` commands and
``bootstrap`` the step that publishes a rule directory.
"""
