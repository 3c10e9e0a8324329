"""Config checking with messages a person can act on.

Snakemake's ``validate`` stops at the first jsonschema error and prints the schema path. This
module collects *all* errors and names each by its config key (``ising2d.sizes[1]``), the value
found, and what is allowed. The Snakefile calls :func:`check_config` first, then
``snakemake.utils.validate`` (which also fills defaults).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


class ConfigError(ValueError):
    """The config does not satisfy the schema; the message lists every problem."""


def _load_schema(path: Path) -> tuple[dict, Registry]:
    path = Path(path).resolve()
    schema = yaml.safe_load(path.read_text())
    schema["$id"] = path.as_uri()

    def retrieve(uri: str):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        contents = yaml.safe_load(Path(url2pathname(urlparse(uri).path)).read_text())
        # section files may omit $schema: read them as the main schema's draft
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    registry = Registry(retrieve=retrieve).with_resource(
        path.as_uri(), Resource.from_contents(schema, default_specification=DRAFT202012))
    return schema, registry


def resolved_schema(schema_path: str | Path) -> dict:
    """The schema with every ``$ref`` (to section files and to ``#/$defs/...``) inlined."""
    import copy

    def resolve(node, base: Path, doc: dict):
        if isinstance(node, list):
            return [resolve(n, base, doc) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            file_part, _, pointer = ref.partition("#")
            if file_part:
                target_path = (base / file_part).resolve()
                target_doc = yaml.safe_load(target_path.read_text())
                target, new_base = target_doc, target_path.parent
            else:
                target_doc, target, new_base = doc, doc, base
            for part in filter(None, pointer.split("/")):
                target = target[part]
            merged = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
            return resolve(merged, new_base, target_doc)
        return {k: resolve(v, base, doc) for k, v in node.items()}

    path = Path(schema_path).resolve()
    doc = yaml.safe_load(path.read_text())
    return resolve(doc, path.parent, doc)


def fill_defaults(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Fill missing keys from schema defaults, recursively, through ``$ref``'d section files.

    (``snakemake.utils.validate`` does not descend into referenced files when setting defaults.)
    Modifies and returns ``config``.
    """
    import copy

    def fill(instance, schema):
        if not isinstance(instance, dict) or not isinstance(schema, dict):
            return
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and isinstance(sub, dict) and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill(instance[key], sub)

    fill(config, resolved_schema(schema_path))
    return config


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _describe(schema: dict) -> str:
    """Short human description of a (sub)schema: 'integer >= 1', "one of 'auto'"."""
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    out = str(schema.get("type", "value"))
    for kw, rel in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                    ("exclusiveMaximum", "<")):
        if kw in schema:
            out += f" {rel} {schema[kw]}"
    return out


def _explain(err) -> str:
    key = _key(err.absolute_path)
    v, s = err.validator, err.schema if isinstance(err.schema, dict) else {}
    inst = err.instance
    hint = s.get("description")
    if v == "additionalProperties":
        allowed = sorted(s.get("properties", {}))
        extra = sorted(set(inst) - set(allowed)) if isinstance(inst, dict) else []
        names = ", ".join(f"{key}.{e}" if key != "<top level>" else e for e in extra)
        return f"unknown key(s) {names}; allowed here: {', '.join(allowed)}"
    if v == "enum":
        return f"{key} = {inst!r} is not allowed; choose one of: {', '.join(map(repr, err.validator_value))}"
    if v == "type":
        return f"{key} = {inst!r} has the wrong type; expected {err.validator_value}" + (f" ({hint})" if hint else "")
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        rel = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return f"{key} = {inst!r} is out of range; must be {rel} {err.validator_value}" + (f" ({hint})" if hint else "")
    if v in ("oneOf", "anyOf"):
        alts = "; or ".join(_describe(a) for a in err.validator_value if isinstance(a, dict))
        return f"{key} = {inst!r} is not allowed; expected {alts}" + (f" ({hint})" if hint else "")
    if v == "required":
        return f"{key}: missing required key(s): {err.message}"
    if v in ("minItems", "maxItems", "uniqueItems"):
        return f"{key}: {err.message}"
    return f"{key}: {err.message}" + (f" ({hint})" if hint else "")


def config_errors(config: dict[str, Any], schema_path: str | Path) -> list[str]:
    """Every schema violation of ``config`` as a readable line (empty if valid)."""
    schema, registry = _load_schema(Path(schema_path))
    validator = Draft202012Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    lines = []
    for err in errors:
        if err.validator in ("oneOf", "anyOf") and err.context:
            # an error deeper inside one alternative is more specific than "none matched"
            deepest = max(err.context, key=lambda e: len(e.absolute_path))
            err = deepest if len(deepest.absolute_path) > len(err.absolute_path) else err
        lines.append(_explain(err))
    return list(dict.fromkeys(lines))


def check_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Raise :class:`ConfigError` listing every problem in ``config``; else fill defaults.

    Returns ``config`` with every schema default filled in (see :func:`fill_defaults`).
    """
    errors = config_errors(config, schema_path)
    if errors:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(errors))
    return fill_defaults(config, schema_path)
