"""Notification channels (email, SMS, Slack, webhook) and their templates.

Plain code with no Faust decorators: ``agents.alerting.notifier`` wires it to the alert topic.
"""
