"""Analysis stages (``python -m coarsegrain analysis.<name>``)."""

from __future__ import annotations

import pandas as pd

from coarsegrain import io
from coarsegrain.analysis.claims import COLUMNS
from coarsegrain.cli import StageContext


def collect_claims(ctx: StageContext) -> None:
    """Concatenate every stage's claims table into ``claims.parquet`` (sorted by name)."""
    frames = [io.read_table(f)[0] for f in ctx.inputs.get("parts", [])]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    dup = df["name"][df["name"].duplicated()].tolist()
    if dup:
        raise ValueError(f"claim names must be unique; duplicated: {dup}")
    df = df[COLUMNS].sort_values("name").reset_index(drop=True)
    io.write_table(df, ctx.output("claims"), ctx.provenance())
    for r in df.itertuples():
        ctx.log.info("%-40s %10.5g ± %-10.3g ref %-10.5g %s", r.name, r.value, r.error, r.reference, r.verdict)


from coarsegrain.analysis.spectral_stages import STAGES as _P3_STAGES  # noqa: E402

STAGES = {"collect-claims": collect_claims, **_P3_STAGES}
