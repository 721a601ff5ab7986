"""A static checker for the chart's Go templates (no helm needed).

It does not render anything. It checks what a typo breaks first: every
``{{ }}`` action closes, every if/range/with/define/block has its end (and an
else only inside one), every bare identifier is a known template function,
every include/template names a defined helper, and every ``.Values.x.y`` path
exists in values.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Go's builtins, Helm's additions and the Sprig functions; extend when a template needs another.
KNOWN_FUNCTIONS = frozenset(
    """
    and call html index slice js len not or print printf println urlquery eq ne lt le gt ge
    include tpl required lookup toYaml toYamlPretty fromYaml fromYamlArray toJson fromJson
    fromJsonArray toToml fromToml
    fail default empty coalesce ternary quote squote cat indent nindent replace trim trimAll
    trimPrefix trimSuffix trunc abbrev upper lower title untitle repeat substr nospace initials
    contains hasPrefix hasSuffix regexMatch regexFind regexReplaceAll regexSplit splitList split
    join sortAlpha toString toStrings int int64 float64 atoi add add1 sub mul div mod max min
    list dict get set unset hasKey pluck keys values pick omit merge mergeOverwrite deepCopy
    first last rest initial append prepend concat reverse uniq without has compact
    kindIs kindOf typeOf typeIs deepEqual semverCompare semver b64enc b64dec b32enc b32dec
    sha1sum sha256sum adler32sum randAlphaNum randAlpha randNumeric uuidv4 now date dateInZone
    toDate ago duration durationRound env expandenv base dir clean ext isAbs until untilStep seq
    genCA genSelfSignedCert genPrivateKey derivePassword htpasswd
    """.split()
)
KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})
LITERALS = frozenset({"true", "false", "nil"})
OPENERS = frozenset({"if", "range", "with", "define", "block"})

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COMMENT = re.compile(r"^-?\s*/\*.*\*/\s*-?$", re.DOTALL)
_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)\'|\$[\w]*(?:\.\w+)*|\.[\w.]*|[A-Za-z_]\w*|:=|[=|(),]|-?\d+(?:\.\d+)?'
)
_VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_]\w*)+)")


@dataclass(frozen=True)
class Action:
    file: str
    line: int
    body: str


def actions(path: Path) -> tuple[list[Action], list[str]]:
    """The actions of one template file, and the errors of unbalanced delimiters."""
    text = path.read_text()
    errors = []
    found: list[Action] = []
    for match in _ACTION.finditer(text):
        body = match.group(1).strip()
        if body.startswith("-"):
            body = body[1:]
        if body.endswith("-"):
            body = body[:-1]
        line = text.count("\n", 0, match.start()) + 1
        if "{{" in match.group(1):
            errors.append(f"{path.name}:{line}: '{{{{' inside an action (an unclosed action before it?)")
        if not _COMMENT.match(match.group(1).strip()):
            found.append(Action(path.name, line, body.strip()))
    leftover = _ACTION.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        line = next(i for i, s in enumerate(leftover.splitlines(), 1) if "{{" in s or "}}" in s)
        errors.append(f"{path.name}: unbalanced '{{{{' or '}}}}' (near line {line} of the text between actions)")
    return found, errors


def tokens(body: str) -> list[str]:
    return _TOKEN.findall(body)


def check_blocks(found: list[Action]) -> list[str]:
    errors: list[str] = []
    stack: list[Action] = []
    for action in found:
        words = tokens(action.body)
        head = words[0] if words else ""
        if head in OPENERS:
            stack.append(action)
        elif head == "else":
            if not stack or tokens(stack[-1].body)[0] not in {"if", "range", "with"}:
                errors.append(f"{action.file}:{action.line}: else outside if/range/with")
        elif head == "end":
            if not stack:
                errors.append(f"{action.file}:{action.line}: end without an opening block")
            else:
                stack.pop()
    errors += [f"{a.file}:{a.line}: '{tokens(a.body)[0]}' is never closed by an end" for a in stack]
    return errors


def defined_helpers(found: list[Action]) -> set[str]:
    names = set()
    for action in found:
        words = tokens(action.body)
        if len(words) > 1 and words[0] in {"define", "block"}:
            names.add(words[1].strip('"`'))
    return names


def check_names(found: list[Action], helpers: set[str]) -> list[str]:
    """Unknown functions, and include/template of undefined helpers."""
    errors = []
    for action in found:
        words = tokens(action.body)
        for i, word in enumerate(words):
            if re.fullmatch(r"[A-Za-z_]\w*", word):
                if word not in KNOWN_FUNCTIONS | KEYWORDS | LITERALS:
                    errors.append(f"{action.file}:{action.line}: unknown function {word!r}")
                if word in {"include", "template"}:
                    name = words[i + 1] if i + 1 < len(words) else ""
                    if not name.startswith(('"', "`")):
                        errors.append(f"{action.file}:{action.line}: {word} needs a literal helper name")
                    elif name.strip('"`') not in helpers:
                        errors.append(f"{action.file}:{action.line}: {word} of undefined helper {name}")
    return errors


def check_values_paths(found: list[Action], values: dict[str, Any]) -> list[str]:
    """Every .Values.a.b path names a key of values.yaml (free-form maps end the check)."""
    errors = []
    for action in found:
        for match in _VALUES_PATH.finditer(action.body):
            node: Any = values
            for key in match.group(1).strip(".").split("."):
                if isinstance(node, dict) and key in node:
                    node = node[key]
                elif isinstance(node, dict) and not node:
                    break  # a free-form map such as podAnnotations
                else:
                    errors.append(f"{action.file}:{action.line}: .Values{match.group(1)} is not in values.yaml")
                    break
    return errors
