"""The plugin's tables (the `licheng.models` entry point `taipei_coolcloud`).

Tortoise finds models among this module's attributes, so each feature's model
module is imported here. Every table is tenant-owned (``school`` foreign key)
or explicitly bureau-level.
"""

import importlib as _importlib

for _name in ("departments", "cabinet", "early_warnings", "sso", "sync"):
    try:
        _module = _importlib.import_module(f"taipei_coolcloud.models.{_name}")
    except ModuleNotFoundError as _error:
        if _error.name != f"taipei_coolcloud.models.{_name}":
            raise
        continue
    globals().update({k: v for k, v in vars(_module).items() if not k.startswith("_")})
