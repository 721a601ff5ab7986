"""The plugin SDK: what a Licheng plugin imports, and all it should import from the core.

A plugin is a package with an entry point in the ``licheng.plugins`` group naming
a module whose ``plugin`` attribute is a ``Plugin`` instance::

    from licheng.plugins import Plugin, PluginSettings, hookimpl, setting

    class Settings(PluginSettings):
        outcomes_per_term: int = setting(12, ge=1, le=60, label_zh="每學期上限", label_en="Per term")

    class Taipei(Plugin):
        id, name, version = "taipei_coolcloud", "臺北酷課雲", "1.0"
        settings_model = Settings

        @hookimpl
        def licheng_policy_rules(self, config):
            return {"outcomes_per_term": config.outcomes_per_term}

    plugin = Taipei()

The hooks are documented one by one in ``licheng.plugins.hookspecs``; the values
they exchange in ``licheng.plugins.contracts``. See docs/plugins.md.
"""

from pydantic import SecretStr

from licheng.errors import LichengError

from licheng.plugins.contracts import (
    POLICY_KEYS,
    DirectoryProvider,
    ExternalIdentity,
    HealthReport,
    Importer,
    Notification,
    Notifier,
    OAuthProvider,
    ScheduledJob,
    SubmissionAdapter,
)
from licheng.plugins.hookspecs import hookimpl
from licheng.plugins.spec import Plugin, PluginSettings, secret_setting, setting

__all__ = [
    "POLICY_KEYS", "DirectoryProvider", "ExternalIdentity", "HealthReport", "Importer",
    "LichengError", "Notification", "Notifier", "OAuthProvider", "Plugin", "PluginSettings", "ScheduledJob",
    "SecretStr", "SubmissionAdapter", "hookimpl", "secret_setting", "setting",
]  # fmt: skip
