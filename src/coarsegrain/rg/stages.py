"""Workflow stages for block-spin RG (called as ``python -m coarsegrain rg.<name>``)."""

from __future__ import annotations

import numpy as np

from coarsegrain import io
from coarsegrain.cli import StageContext


def block_spin(ctx: StageContext) -> None:
    """Coarse-grain Monte Carlo configurations repeatedly; one output file per RG step.

    Inputs: ``spins`` (one spin file). Outputs: ``blocks`` (one path per step, step 1 first).
    Params: rule ("average" | "majority" | "decimate"), b, seed; the number of steps is the
    number of ``blocks`` paths. Averaged lattices are written with
    :func:`coarsegrain.io.write_lattices` (float32), ±1 outputs with
    :func:`coarsegrain.io.write_spins`; the input's per-configuration columns are kept and a
    ``step`` column is added.
    """
    from coarsegrain.rg.blockspin import rg_flow

    p = ctx.params
    rule, b = p.get("rule", "average"), int(p.get("b", 2))
    outs = ctx.outputs["blocks"]
    spins, cols, meta = io.read_spins(ctx.input("spins"), with_columns=True)
    flow = rg_flow(spins, len(outs), rule=rule, b=b, seed=int(p.get("seed", 0)),
                   include_input=False)
    base = {k: meta[k] for k in ("model", "temperature", "sigma") if k in meta}
    for step, (x, out) in enumerate(zip(flow, outs, strict=True), start=1):
        columns = {c: cols[c].to_numpy() for c in cols.columns}
        columns["step"] = np.full(x.shape[0], step, dtype=np.int32)
        prov = ctx.provenance(**base, size=list(x.shape[1:]), rg_rule=rule, rg_b=b, rg_step=step,
                              input_size=list(spins.shape[1:]))
        if rule == "average":
            io.write_lattices(x, out, prov, columns=columns)
        else:
            io.write_spins(x, out, prov, columns=columns)
        ctx.log.info("RG step %d (%s, b=%d): %s -> %s", step, rule, b, spins.shape[1:], x.shape[1:])


STAGES = {
    "block-spin": block_spin,
}
