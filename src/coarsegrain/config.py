"""Config checking with messages a person can act on.

Snakemake's ``validate`` stops at the first jsonschema error and prints the schema path. This
module collects *all* errors and names each by its config key (``ising2d.sizes[1]``), the value
found, and what is allowed, including rules that tie several keys together (a Binder window with
lo < hi, ``random`` in ``spectral.schemes``, ...), so that a bad config stops before any job.
The Snakefile calls :func:`layer_on_preset` and :func:`check_config` first, then
``snakemake.utils.validate`` (which also fills defaults), then :func:`run_name` for the results
folder.

Layering: a preset (``config.yaml`` = quick, ``presets/<name>.yaml``) is complete: the schema
defaults plus what its file says. Whatever Snakemake read from the command line
(``--configfile`` files merged in order, then ``--config``) is merged over the file of the preset
it names (``preset:``, default quick). The results folder is ``<preset>`` when the resolved
config equals the preset's own, else ``<preset>-<hash of the resolved config>``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
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


def check_config(config: dict[str, Any], schema_path: str | Path,
                 base_dir: str | Path | None = None) -> dict[str, Any]:
    """Raise :class:`ConfigError` listing every problem in ``config``; else fill defaults.

    Schema violations come first; when there are none, the cross-field rules of
    :func:`cross_field_errors` are checked on the defaults-filled config.

    Parameters
    ----------
    config : the config as read (modified in place: defaults filled)
    schema_path : workflow/schemas/config.schema.yaml
    base_dir : folder that relative dataset paths are read from (Snakemake's working
        directory); None = the current directory

    Returns
    -------
    ``config`` with every schema default filled in (see :func:`fill_defaults`).
    """
    errors = config_errors(config, schema_path)
    if not errors:
        # the cross-field rules read defaults too; check them on a filled copy so that a failed
        # check leaves the caller's dict as it was
        errors = cross_field_errors(fill_defaults(copy.deepcopy(config), schema_path), base_dir)
    if errors:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(errors))
    return fill_defaults(config, schema_path)


# ---------------------------------------------------------------- rules across several keys
def _fmt_t(t: float) -> str:
    # the workflow's file-name form of a temperature (4 decimals), so that 2.27 == 2.2700
    return f"{float(t):.4f}"


def _fmt_sigma(s: float) -> str:
    return f"{float(s):g}"


def cross_field_errors(config: dict[str, Any], base_dir: str | Path | None = None) -> list[str]:
    """Problems that involve more than one key, one readable line each (empty if none).

    Parameters
    ----------
    config : a schema-valid config with defaults filled (:func:`fill_defaults`)
    base_dir : folder that relative ``datasets.*.path`` values are read from; None = the
        current directory

    Returns
    -------
    One line per problem, naming the key, the value and what is allowed.
    """
    base = Path.cwd() if base_dir is None else Path(base_dir)
    out: list[str] = []
    ising, mc, ds = config["ising2d"], config["montecarlo"], config["datasets"]
    spec, rbm, flows = config["spectral"], config["rbm"], config["flows"]
    ising_t = [_fmt_t(t) for t in ising["temperatures"]]

    # ------------------------------------------------------------ ising2d
    lo, hi = ising["binder_window"]
    if lo >= hi:
        out.append(f"ising2d.binder_window = {ising['binder_window']!r}: needs [T_lo, T_hi] with "
                   "T_lo < T_hi")
    grid = ising["exact_grid"]
    if grid["tmin"] >= grid["tmax"]:
        out.append(f"ising2d.exact_grid: tmin = {grid['tmin']!r} must be < tmax = {grid['tmax']!r}")

    # ------------------------------------------------------------ datasets
    for name in ("mnist", "flowers", "swimseg"):
        d = ds[name]
        if d.get("path") is not None:
            p = Path(d["path"]).expanduser()
            if not (p if p.is_absolute() else base / p).exists():
                out.append(f"datasets.{name}.path = {d['path']!r} does not exist (relative paths "
                           "are read from the working directory); set an existing file or "
                           "folder, or null")
        elif d.get("source") == "path":
            out.append(f"datasets.{name}.source = 'path' needs datasets.{name}.path to be set")

    # ------------------------------------------------------------ spectral (P3)
    if "random" not in spec["schemes"]:
        out.append(f"spectral.schemes = {spec['schemes']!r} lacks 'random', the baseline every "
                   f"speedup is measured against; add it")
    if "ising2d" in spec["datasets"]:
        L, T = spec["ising2d"]["L"], spec["ising2d"]["T"]
        if L not in ising["sizes"]:
            out.append(f"spectral.ising2d.L = {L!r} is not a sampled size; choose one of "
                       f"ising2d.sizes {ising['sizes']!r}")
        if _fmt_t(T) not in ising_t:
            out.append(f"spectral.ising2d.T = {T!r} is not a sampled temperature; choose one of "
                       f"ising2d.temperatures {ising['temperatures']!r}")
    mc_sigmas = [_fmt_sigma(s) for s in mc["longrange"]["sigmas"]]
    if "longrange" in spec["datasets"] and spec["longrange"]["sigma"] is not None:
        if _fmt_sigma(spec["longrange"]["sigma"]) not in mc_sigmas:
            out.append(f"spectral.longrange.sigma = {spec['longrange']['sigma']!r} is not sampled; "
                       f"choose one of montecarlo.longrange.sigmas {mc['longrange']['sigmas']!r}")

    # ------------------------------------------------------------ rbm (P1)
    stack = rbm["stack"]
    block = 2 ** stack["n_layers"]
    if rbm["enabled"]:
        if _fmt_t(rbm["tc_temperature"]) not in ising_t:
            out.append(f"rbm.tc_temperature = {rbm['tc_temperature']!r} is not one of "
                       f"ising2d.temperatures {ising['temperatures']!r}")
        for i, L in enumerate(stack["sizes"]):
            if L % block:
                out.append(f"rbm.stack.sizes[{i}] = {L} is not divisible by 2^rbm.stack.n_layers "
                           f"= {block}")

    # ------------------------------------------------------------ flows (P1, P2)
    fl2, fllr = flows["ising2d"], flows["longrange"]
    if fllr["enabled"]:
        for s in fllr["sigmas"] or []:
            if _fmt_sigma(s) not in mc_sigmas:
                out.append(f"flows.longrange.sigmas: sigma = {s!r} has no measured T_c; choose from "
                           f"montecarlo.longrange.sigmas {mc['longrange']['sigmas']!r}")
        if not any(math.isclose(float(x), 1.0) for x in fllr["points"]):
            out.append(f"flows.longrange.points = {fllr['points']!r} must contain 1.0 (T = T_c): "
                       "the flows and stacks start from those samples")
        lr_block = 2 ** fllr["stack"]["n_layers"]
        if fllr["N"] % lr_block or fllr["N"] // lr_block < 4:
            out.append(f"flows.longrange.N = {fllr['N']} must be a multiple of "
                       f"2^flows.longrange.stack.n_layers = {lr_block} with at least 4 sites left "
                       "on the top layer")
    if fl2["enabled"]:
        if not rbm["enabled"]:
            out.append("flows.ising2d.enabled = true needs the P1 RBMs: set rbm.enabled: true "
                       "(or flows.ising2d.enabled: false)")
        names = [f"nh{nh}_{d}" for nh in rbm["n_hidden"] for d in rbm["data"]]
        names += [f"stack_L{L}" for L in stack["sizes"]]
        for r in fl2["rbms"] or []:
            if r not in names:
                out.append(f"flows.ising2d.rbms: {r!r} is not trained by the rbm section; choose "
                           f"from {names!r}")
        stack_L = fl2["stack_L"] or stack["sizes"][0]
        if stack_L not in stack["sizes"]:
            out.append(f"flows.ising2d.stack_L = {stack_L!r} is not one of rbm.stack.sizes "
                       f"{stack['sizes']!r}")
        elif stack_L // block < 4:
            out.append(f"flows.ising2d.stack_L = {stack_L}: the top layer of that stack "
                       f"(rbm.stack.n_layers = {stack['n_layers']}) is smaller than 4x4, too small "
                       "to sample a thermometer for; use a larger rbm.stack.sizes entry")
    return out


# ---------------------------------------------------------------- presets and override layering
QUICK_PRESET_FILE = "config.yaml"
# Keys that say where results go, not what is computed: they do not make a run different.
_PLACEMENT_KEYS = ("output_root",)


def preset_files(root: str | Path) -> dict[str, Path]:
    """Preset name -> its file: ``quick`` is ``config.yaml``, the rest ``presets/<name>.yaml``.

    Parameters
    ----------
    root : the workflow's folder (holding config.yaml and presets/)
    """
    root = Path(root)
    files = {"quick": root / QUICK_PRESET_FILE}
    files.update({p.stem: p for p in sorted((root / "presets").glob("*.yaml"))})
    return files


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``top``, recursively for dicts (lists and scalars are replaced), as
    Snakemake merges several ``--configfile`` files. Neither argument is modified."""
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def layer_on_preset(config: dict[str, Any], presets: dict[str, Path]) -> dict[str, Any]:
    """The config Snakemake read (command-line files and ``--config``), merged over the file of
    the preset it names (``preset``; quick when unnamed).

    Merging the preset's own file again is a no-op, so ``--configfile presets/thesis.yaml
    my_changes.yaml`` and a ``my_changes.yaml`` holding ``preset: thesis`` mean the same.

    Parameters
    ----------
    config : the config as Snakemake read it (not modified)
    presets : name -> file, from :func:`preset_files`

    Returns
    -------
    A new dict: preset file, then ``config``, merged.
    """
    name = config.get("preset", "quick")
    if name not in presets:
        raise ConfigError(f"invalid config:\n  - preset = {name!r} has no preset file; choose one "
                          f"of: {', '.join(map(repr, presets))} (a new preset is a file "
                          "presets/<name>.yaml naming itself in `preset:`)")
    own = yaml.safe_load(Path(presets[name]).read_text()) or {}
    if own.get("preset", "quick") != name:
        raise ConfigError(f"invalid config:\n  - preset = {own.get('preset')!r} in "
                          f"{Path(presets[name]).name} must be {name!r}, the name of its file")
    return deep_merge(own, config)


def preset_config(name: str, presets: dict[str, Path], schema_path: str | Path) -> dict[str, Any]:
    """The resolved config of preset ``name`` alone: its file with the schema defaults filled."""
    own = yaml.safe_load(Path(presets[name]).read_text()) or {}
    return fill_defaults(own, schema_path)


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _PLACEMENT_KEYS}


def config_digest(config: dict[str, Any], length: int = 8) -> str:
    """Short SHA-256 (hex) of a resolved config, placement keys (``output_root``) left out.

    Canonical JSON (sorted keys) makes it independent of key order and of YAML formatting.
    """
    if not 4 <= length <= 64:
        raise ValueError(f"length = {length!r} must be an integer in 4..64")
    text = json.dumps(_identity(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_name(config: dict[str, Any], preset: dict[str, Any]) -> str:
    """Results folder (below ``output_root``) of a resolved config.

    Parameters
    ----------
    config : the resolved config of this run
    preset : the resolved config of the preset it names (:func:`preset_config`)

    Returns
    -------
    ``<preset>`` when the two are equal (placement keys aside), else
    ``<preset>-<config_digest(config)>``: two different configs never share a folder.
    """
    name = config["preset"]
    return name if _identity(config) == _identity(preset) else f"{name}-{config_digest(config)}"
