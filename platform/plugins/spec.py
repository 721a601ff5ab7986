"""What a plugin declares: identity, version, and a typed settings model.

As in Saleor, a plugin's settings are declared next to its code (name, type,
label, help, secret or not, school-overridable or not); the database keeps only
values. The settings model is a pydantic model, so values are typed and
validated the same way in the admin API, the CLI and at run time.
Secrets are ``SecretStr`` fields: they never print, and the admin API only
says whether one is set (and its last four characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class PluginSettings(BaseModel):
    """Base of every plugin settings model. Unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def setting(
    default: Any,
    *,
    label_zh: str,
    label_en: str,
    help_zh: str = "",
    help_en: str = "",
    school_overridable: bool = False,
    **constraints: Any,
) -> Any:
    """Declare a setting: its default, labels in both languages, and pydantic constraints (ge, le...).

    ``school_overridable=True`` lets a school's staff change it for their school;
    otherwise only the bureau decides (it may still set per-school values).
    """
    extra: dict[str, Any] = {
        "label_zh": label_zh,
        "label_en": label_en,
        "help_zh": help_zh,
        "help_en": help_en,
        "school_overridable": school_overridable,
    }
    return Field(default, title=label_en, description=help_en or None, json_schema_extra=extra, **constraints)  # type: ignore[arg-type]


def secret_setting(*, label_zh: str, label_en: str, help_zh: str = "", help_en: str = "") -> Any:
    """A secret (password, client secret, API key): encrypted at rest, never returned. Never school-overridable."""
    return setting(None, label_zh=label_zh, label_en=label_en, help_zh=help_zh, help_en=help_en)


class Plugin:
    """Base of a plugin object: metadata plus ``@hookimpl`` methods.

    The ``licheng.plugins`` entry point names a module whose attribute ``plugin``
    is an instance of a subclass; tests register instances directly.
    """

    id: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[PluginSettings]] = PluginSettings

    def __repr__(self) -> str:
        return f"<plugin {self.id} {self.version}>"


@dataclass(frozen=True)
class FieldSpec:
    """One setting as the admin shows it."""

    name: str
    type: str  # "integer" | "number" | "boolean" | "string" | "choice" | "secret"
    label_zh: str
    label_en: str
    help_zh: str
    help_en: str
    secret: bool
    school_overridable: bool
    default: Any
    choices: tuple[str, ...]
    minimum: float | None
    maximum: float | None


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def secret_fields(model: type[PluginSettings]) -> frozenset[str]:
    return frozenset(name for name, info in model.model_fields.items() if _is_secret(info.annotation))


def describe(model: type[PluginSettings]) -> list[FieldSpec]:
    """The settings of a model in declaration order, from its JSON schema (one source of truth)."""
    props = model.model_json_schema().get("properties", {})
    secrets = secret_fields(model)
    out: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        prop = props.get(name, {})
        variants = prop.get("anyOf", [prop])
        main = next((v for v in variants if v.get("type") != "null"), prop)
        kind = "secret" if name in secrets else ("choice" if "enum" in main else main.get("type", "string"))
        out.append(
            FieldSpec(
                name=name,
                type=kind,
                label_zh=prop.get("label_zh", name),
                label_en=prop.get("label_en", prop.get("title", name)),
                help_zh=prop.get("help_zh", ""),
                help_en=prop.get("help_en", ""),
                secret=name in secrets,
                school_overridable=bool(prop.get("school_overridable")) and name not in secrets,
                default=None if name in secrets else info.default,
                choices=tuple(str(c) for c in main.get("enum", ())),
                minimum=main.get("minimum"),
                maximum=main.get("maximum"),
            )
        )
    return out


@dataclass(frozen=True)
class FieldError:
    field: str
    message_zh: str
    message_en: str


_ZH = {
    "greater_than_equal": "須大於或等於 {ge}",
    "greater_than": "須大於 {gt}",
    "less_than_equal": "須小於或等於 {le}",
    "less_than": "須小於 {lt}",
    "int_parsing": "須為整數",
    "int_from_float": "須為整數",
    "int_type": "須為整數",
    "float_parsing": "須為數字",
    "bool_parsing": "須為是或否",
    "bool_type": "須為是或否",
    "string_type": "須為文字",
    "string_too_long": "過長（上限 {max_length} 字）",
    "string_too_short": "過短（至少 {min_length} 字）",
    "string_pattern_mismatch": "格式不符",
    "literal_error": "須為 {expected} 其中之一",
    "enum": "須為 {expected} 其中之一",
    "extra_forbidden": "不是此外掛的設定項目",
    "missing": "必填",
}


def field_errors(error: ValidationError) -> list[FieldError]:
    """Pydantic errors as field errors in both languages. The input value is never echoed
    (it may be a secret)."""
    out: list[FieldError] = []
    for item in error.errors(include_input=False, include_url=False):
        loc = item.get("loc") or ("",)
        ctx = {k: v for k, v in (item.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
        template = _ZH.get(item["type"], "值無效")
        try:
            zh = template.format(**ctx)
        except (KeyError, IndexError):
            zh = "值無效"
        out.append(FieldError(field=str(loc[0]), message_zh=zh, message_en=str(item.get("msg", "Invalid value"))))
    return out
