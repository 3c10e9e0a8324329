"""Self-contained HTML tables for the Snakemake report: claims, benchmarks, config."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

_STYLE = """<style>
body{font-family:system-ui,sans-serif;font-size:14px;margin:1em}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.agrees td.verdict{background:#d9f2d9}tr.disagrees td.verdict{background:#f8d7d7}
tr.inconclusive td.verdict{background:#fff3cd}pre{background:#f7f7f7;padding:1em}
</style>"""

def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.5g}"
    return html.escape(str(x))


def claims_html(claims: pd.DataFrame, title: str = "Claims checked by this run") -> str:
    """Claims page of the report (rendered by :func:`coarsegrain.claims.evaluate.to_html`)."""
    from coarsegrain.claims.evaluate import to_html

    return to_html(claims, title)


def benchmarks_table(paths: list[str | Path]) -> pd.DataFrame:
    """Snakemake ``benchmark:`` TSVs → one row per job (job name = file stem)."""
    frames = []
    for p in paths:
        df = pd.read_csv(p, sep="\t")
        df.insert(0, "job", Path(p).stem)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["job", "s", "max_rss", "cpu_time"])
    return pd.concat(frames, ignore_index=True).sort_values("s", ascending=False)


def benchmarks_html(table: pd.DataFrame) -> str:
    cols = [c for c in ("job", "s", "h:m:s", "max_rss", "cpu_time", "mean_load") if c in table.columns]
    head = "".join(f"<th>{c}</th>" for c in cols)
    rows = "".join(
        "<tr>" + "".join(f'<td class="{"num" if isinstance(v, float) else ""}">{_fmt(v)}</td>'
                         for v in r) + "</tr>"
        for r in table[cols].itertuples(index=False))
    total = table["s"].sum() if "s" in table else float("nan")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{_STYLE}</head><body>"
            f"<h2>Per-rule benchmarks</h2><p>Wall time (s), peak memory (max_rss, MB) and CPU time "
            f"per job; {len(table)} jobs, {total:.1f} s in total.</p>"
            f"<table><tr>{head}</tr>{rows}</table></body></html>")


def config_html(config_yaml: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{_STYLE}</head><body>"
            f"<h2>Configuration used</h2><pre>{html.escape(config_yaml)}</pre></body></html>")
