"""The alerting stage: the reads some rule needs -> alerts on ``alpr.alerts`` -> the people the
rules name. It is the stateful side of the pure rule model of ``rules/``.

``feed`` evaluates the plate-keyed rules on every read of ``alpr.plates.detected`` (batch
runtime, plate state in ``tables.plate_state``) and sends camera ticks to ``alerts``, the
camera-rule agent and its timer (Faust); both run ``engine`` (evaluation against the rule
book and the rule state); ``rule_book`` keeps every worker's rule
book in step with the rule topic (``rule_topic``: publish, catch up, follow, history);
``notifier`` delivers each alert to its rule's actions (the channels of ``notify/``);
``topics`` declares the alert topics; ``cli`` holds the ``alpr rules`` commands and
``bootstrap`` the step that publishes a rule directory.
"""
