"""``python -m coarsegrain STAGE --in NAME PATH... --out NAME PATH... --params JSON``.

Every Snakemake rule calls one stage through this entry point, so each stage is also runnable
by hand. A stage is named ``<rules file>.<stage-name>`` (e.g. ``ising2d.sample-ising2d`` for
``workflow/rules/ising2d.smk``) and lives in the ``STAGES`` dict of
``coarsegrain.stages.<rules file>``, mapping the stage name to a function
``fn(ctx: StageContext) -> None``. Only that module is imported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field

from coarsegrain import __version__

log = logging.getLogger("coarsegrain")


@dataclass
class StageContext:
    """What a stage gets: named input/output paths, params, and a logger.

    ``inputs[name]`` and ``outputs[name]`` are lists of paths (a rule may pass several).
    """

    stage: str
    inputs: dict[str, list[str]] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    log: logging.Logger = log

    def input(self, name: str) -> str:
        """The single path given for input ``name``."""
        return self._one(self.inputs, name, "input")

    def output(self, name: str) -> str:
        """The single path given for output ``name``."""
        return self._one(self.outputs, name, "output")

    def _one(self, d, name, kind):
        if name not in d:
            raise KeyError(f"stage {self.stage}: no {kind} named {name!r} (got {sorted(d)})")
        if len(d[name]) != 1:
            raise ValueError(f"stage {self.stage}: {kind} {name!r} has {len(d[name])} paths, expected 1")
        return d[name][0]

    def provenance(self, **extra) -> dict:
        """Metadata to store with every output: stage, params (incl. seed and code
        fingerprint), package version, plus ``extra``."""
        meta = {
            "stage": self.stage,
            "params": self.params,
            "seed": self.params.get("seed"),
            "version": __version__,
            "code": self.params.get("code"),
        }
        meta.update(extra)
        return meta

    @property
    def device(self):
        from coarsegrain.runtime import resolve_device

        return resolve_device(self.params.get("device", "auto"))


def resolve_stage(name: str):
    """The stage function called ``<module>.<stage>``; SystemExit naming what exists otherwise."""
    from coarsegrain.stages import MODULES

    if "." not in name:
        raise SystemExit(f"stage names look like 'ising2d.sample-ising2d'; got {name!r}. "
                         f"Stage modules: {', '.join(MODULES)} (list them with --list)")
    module_name, stage = name.split(".", 1)
    if module_name not in MODULES:
        raise SystemExit(f"unknown stage module {module_name!r} in {name!r}; choose from: "
                         f"{', '.join(MODULES)}")
    module = importlib.import_module(f"coarsegrain.stages.{module_name}")
    stages = getattr(module, "STAGES", {})
    if stage not in stages:
        raise SystemExit(f"unknown stage {name!r}; {module_name} has: {', '.join(sorted(stages))}")
    return stages[stage]


def list_stages() -> list[str]:
    """Every stage name, ``<module>.<stage>``, in rules-file order."""
    from coarsegrain.stages import MODULES

    names = []
    for m in MODULES:
        module = importlib.import_module(f"coarsegrain.stages.{m}")
        names += [f"{m}.{s}" for s in sorted(module.STAGES)]
    return names


def _stage_summaries() -> list[tuple[str, str]]:
    """(stage name, first line of its docstring) for every stage."""
    out = []
    for name in list_stages():
        fn = resolve_stage(name)
        out.append((name, (fn.__doc__ or "").strip().split("\n")[0]))
    return out


def _pairs(values) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, *paths in values or []:
        out.setdefault(name, []).extend(paths)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    wants_list = not argv or any(a in ("-h", "--help", "--list") for a in argv)
    # Listing imports every stage module (torch, seaborn, ...): only when asked for.
    epilog = ("stages:\n" + "\n".join(f"  {name:38s} {doc}" for name, doc in _stage_summaries())
              if wants_list else None)
    parser = argparse.ArgumentParser(prog="coarsegrain", description=__doc__, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", nargs="?", help="e.g. ising2d.sample-ising2d (see the list below)")
    parser.add_argument("--list", action="store_true", help="list every stage and exit")
    parser.add_argument("--in", dest="inputs", nargs="+", action="append", metavar=("NAME", "PATH"),
                        help="named input path(s); repeatable")
    parser.add_argument("--out", dest="outputs", nargs="+", action="append", metavar=("NAME", "PATH"),
                        help="named output path(s); repeatable")
    parser.add_argument("--params", default="{}", help="stage parameters as a JSON object")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--version", action="version", version=__version__)
    args = parser.parse_args(argv)
    if args.list or args.stage is None:
        print(epilog)
        return 0

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--params is not valid JSON: {exc}") from exc
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    fn = resolve_stage(args.stage)
    ctx = StageContext(stage=args.stage, inputs=_pairs(args.inputs), outputs=_pairs(args.outputs),
                       params=params, log=logging.getLogger(f"coarsegrain.{args.stage}"))
    t0 = time.perf_counter()
    ctx.log.info("start %s (coarsegrain %s)", args.stage, __version__)
    fn(ctx)
    ctx.log.info("done %s in %.1f s", args.stage, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
