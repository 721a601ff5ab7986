"""The web console (licheng.console): plugin admin for bureaus, onboarding, imports.

A client of the public GraphQL API like any other: server-rendered shells
(``pages``), words in zh-TW and English (``i18n``), and small scripts without
a build step (``static/``). Mounted by the app at ``/console``.
"""
