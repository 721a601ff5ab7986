"""Plugins for tests, registered directly on a manager (as pytest's ``-p``), never through entry points.

- ``rules.RulesPlugin`` ("test_rules"): policy rules from its settings, a secret, a
  school-overridable setting and a health check, recording every call it gets.
- ``broken.BrokenPlugin`` ("test_broken"): every hook raises, with its secret in the message.
"""
