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


class ConfigError(ValueError):
    """The config does not satisfy the schema; the message lists every problem."""


def _load_schema(path: Path) -> tuple[dict, Registry]:
    path = Path(path).resolve()
    schema = yaml.safe_load(path.read_text())
    schema["$id"] = path.as_uri()

    def retrieve(uri: str):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return Resource.from_contents(yaml.safe_load(Path(url2pathname(urlparse(uri).path)).read_text()))

    registry = Registry(retrieve=retrieve).with_resource(path.as_uri(), Resource.from_contents(schema))
    return schema, registry


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


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
        # anyOf/oneOf: report the most specific sub-error
        leaf = min(err.context, key=lambda e: -len(e.absolute_path)) if err.context else err
        lines.append(_explain(leaf))
    return list(dict.fromkeys(lines))


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every problem in ``config``."""
    errors = config_errors(config, schema_path)
    if errors:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(errors))
