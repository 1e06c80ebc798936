"""Forms built from the catalogue (domain/catalogue.py): each request's JSON Schema gives the fields, their types,
bounds and which are required; domain/texts/labels.py gives their labels, units and the labels of allowed values.
A submitted form is turned back into the JSON the REST API takes, and validated by the same code
(domain.validation), so a field's error is the API's own message, in the page's language."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from domain.catalogue import catalogue
from domain.texts import labels
from domain.texts.messages import localise

DEFAULT_LESIONS = 1
MAX_LESIONS = 10


class Field(msgspec.Struct, kw_only=True):
    """One control: `path` is its name in the form and in the API's error list (`lesions[0].spine.level`)."""

    path: str
    label: str
    widget: str  # select, number, text, date, group, list
    required: bool = False
    unit: str | None = None
    description: str = ""
    options: list[tuple[str, str]] = []
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    children: list[Field] = []


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    """(the node without Optional and $ref, the name of the definition it came from, whether null is allowed)."""
    nullable = False
    if "anyOf" in node:
        kept = [n for n in node["anyOf"] if n.get("type") != "null"]
        nullable = len(kept) < len(node["anyOf"])
        if len(kept) == 1:
            node = {**{k: v for k, v in node.items() if k not in ("anyOf", "default")}, **kept[0]}
    name = None
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node, name, nullable


def value_label(score: str | None, field: str, enum: str | None, value: str, lang: str) -> str:
    """A value's label: the score's own table, the pathways' enumerations, else the value in words."""
    module, _, cls = (enum or "").rpartition(".")
    scores = ([score] if score else []) + [s["score"] for s in catalogue("en")["scores"]]
    if module.startswith("domain.scores."):
        scores.insert(0, module.rsplit(".", 1)[-1])
    for name in scores:
        if (name, field, value) in labels.VALUES:
            return labels.VALUES[name, field, value][lang]
    enum_name = labels.ENUM_NAMES.get((module, cls)) or cls
    if (enum_name, value) in labels.ENUMS:
        return labels.ENUMS[enum_name, value][lang]
    return value.replace("_", " ")


def _label(name: str, lang: str) -> str:
    return labels.FIELDS[name][lang] if name in labels.FIELDS else name.replace("_", " ")


def fields_of(schema: dict[str, Any], lang: str, *, score: str | None = None, lesions: int = DEFAULT_LESIONS,
              prefix: str = "") -> list[Field]:
    """The controls of one object of the schema, in its order (patient_ref excepted: the console asks for it as
    a field of its own, never echoed)."""
    defs = schema.get("$defs", {})
    node, _, _ = _resolve(schema, defs)
    return _object_fields(node, defs, lang, score, lesions, prefix)


def _object_fields(node: dict[str, Any], defs: dict[str, Any], lang: str, score: str | None, lesions: int,
                   prefix: str) -> list[Field]:
    required = set(node.get("required", ()))
    found: list[Field] = []
    for name, child in node.get("properties", {}).items():
        if name == "patient_ref":
            continue
        path = f"{prefix}.{name}" if prefix else name
        found.append(_field(name, path, child, defs, lang, score, lesions, name in required))
    return found


def _field(name: str, path: str, child: dict[str, Any], defs: dict[str, Any], lang: str, score: str | None,
           lesions: int, required: bool) -> Field:
    node, enum, _ = _resolve(child, defs)
    field = Field(path=path, label=_label(name, lang), widget="text", required=required,
                  unit=labels.unit(name, lang) if name in labels.FIELDS else None,
                  description=child.get("description") or node.get("description") or "")
    if "enum" in node:
        field.widget = "select"
        field.options = [(str(v), value_label(score, name, enum, str(v), lang)) for v in node["enum"]]
    elif node.get("type") == "boolean":
        field.widget = "select"
        field.options = [("true", YES[lang]), ("false", NO[lang])]
    elif node.get("type") in ("integer", "number"):
        field.widget = "number"
        field.minimum = node.get("minimum", node.get("exclusiveMinimum"))
        field.maximum = node.get("maximum", node.get("exclusiveMaximum"))
        field.step = str(node.get("multipleOf", 1)) if node["type"] == "integer" else "any"
    elif node.get("type") == "string" and node.get("format") == "date":
        field.widget = "date"
    elif node.get("type") == "object":
        field.widget = "group"
        field.children = _object_fields(node, defs, lang, score, lesions, path)
    elif node.get("type") == "array" and "items" in node:
        item, _, _ = _resolve(node["items"], defs)
        if item.get("type") == "object":
            field.widget = "list"
            field.children = [Field(path=f"{path}[{i}]", label=f"{LESION[lang]} {i + 1}", widget="group",
                                    children=_object_fields(item, defs, lang, score, lesions, f"{path}[{i}]"))
                              for i in range(lesions)]
    return field


YES = {"fr": "Oui", "en": "Yes"}
NO = {"fr": "Non", "en": "No"}
LESION = {"fr": "Lésion", "en": "Lesion"}
_INDEXED = re.compile(r"^(?P<name>[a-z_0-9]+)\[(?P<index>\d{1,2})\]$")
_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


def to_json(form: dict[str, str], fields: list[Field]) -> dict[str, Any]:
    """The request body a form stands for: empty controls are absent (the API then says what is required), numbers
    and booleans typed, anything unreadable passed as given so that the API's validation names it."""
    kinds = {f.path: f for f in _walk(fields)}
    body: dict[str, Any] = {}
    for path, raw in form.items():
        field = kinds.get(path)
        value = raw.strip()
        if field is None or value == "" or field.widget in ("group", "list"):
            continue
        typed: Any = value
        if field.widget == "number" and _NUMBER.match(value):
            number = float(value.replace(",", "."))
            typed = int(number) if number.is_integer() and field.step != "any" else number
        elif field.widget == "select" and field.options and field.options[0][0] == "true":
            typed = value == "true" if value in ("true", "false") else value
        _put(body, path, typed)
    return body


def _walk(fields: list[Field]) -> list[Field]:
    out: list[Field] = []
    for f in fields:
        out.append(f)
        out.extend(_walk(f.children))
    return out


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    node: Any = body
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        indexed = _INDEXED.match(part)
        if indexed:
            items = node.setdefault(indexed["name"], [])
            index = int(indexed["index"])
            while len(items) <= index:
                items.append({})
            if last:
                items[index] = value
            else:
                node = items[index]
        elif last:
            node[part] = value
        else:
            node = node.setdefault(part, {})
    return None


def compact_lists(body: dict[str, Any]) -> dict[str, Any]:
    """Lesions left wholly empty are dropped (a form shows more rows than a case may have)."""
    for key, value in list(body.items()):
        if isinstance(value, list):
            body[key] = [compact_lists(v) if isinstance(v, dict) else v for v in value if v != {}]
        elif isinstance(value, dict):
            compact_lists(value)
    return body


def enclosing(paths: list[str]) -> set[str]:
    """Every block that holds one of `paths` (`lesions[0].spine.sins.level` -> `lesions`, `lesions[0]`,
    `lesions[0].spine`, `lesions[0].spine.sins`): the folded blocks a form shows open."""
    found: set[str] = set()
    for path in paths:
        for end in (m.start() for m in re.finditer(r"[.\[]", path)):
            found.add(path[:end])
    return found


def field_errors(problems: list[Any], lang: str) -> dict[str, str]:
    """The API's problems by field path, each message in the page's language (infra.problems does the same)."""
    errors: dict[str, str] = {}
    for p in problems:
        message = localise(p.message, lang)
        if p.allowed and len(p.allowed) <= 12:
            message += " — " + ", ".join(str(a) for a in p.allowed)
        errors[p.field] = f"{errors[p.field]}; {message}" if p.field in errors else message
    return errors
