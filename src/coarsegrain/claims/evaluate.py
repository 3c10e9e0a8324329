"""Measurements + registry → the claims table with verdicts, and its Markdown/CSV renderings.

Aggregation over training seeds: for a claim measured under n ≥ 2 seeds the row's value is the
mean over seeds and its error the between-seed standard error, std(ddof=1)/√n, which contains
every source of randomness that differs between seeds (training, flow sampling, thermometer).
With few seeds that spread can come out small by chance, so the error is never taken smaller
than the within-run error of the mean, √(mean σ_i²/n). References and tolerances measured per
seed are averaged the same way. ``seeds_reproducing`` counts the seeds whose own measurement
(with its within-run error, or its value alone when it has none) satisfies the comparison.
"""

from __future__ import annotations

import fnmatch
import math

import numpy as np
import pandas as pd

from coarsegrain.claims.compare import FAILS, HOLDS, INCONCLUSIVE, Outcome
from coarsegrain.claims.measure import COLUMNS as MEASUREMENT_COLUMNS
from coarsegrain.claims.registry import REGISTRY, ClaimSpec, find_spec

COLUMNS = ["id", "kind", "source", "statement", "figure", "protocol", "question", "measure",
           "value", "error",
           "error_kind", "n_seeds", "seeds_reproducing", "censored", "reference",
           "reference_error", "comparison", "tolerance", "tolerance_source", "chi2_dof", "flags",
           "outcome", "verdict", "reason", "detail"]

VERDICTS = {"check": {HOLDS: "pass", FAILS: "fail", INCONCLUSIVE: "fail"},
            "thesis": {HOLDS: "reproduced", FAILS: "not reproduced",
                       INCONCLUSIVE: "inconclusive"}}
POOR_FIT = 3.0  # χ²/dof above this is flagged


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _between_seed(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x[0]) if x.size else math.nan), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def _one(spec: ClaimSpec, params: dict, m: pd.DataFrame) -> dict:
    seeds = sorted(int(s) for s in m["seed"].unique())
    learned_seeds = [s for s in seeds if s >= 0]
    pre_aggregated = int(m["n_seeds"].max()) if len(m) == 1 else 0
    flags = []
    censored = bool(m["censored"].any())
    per_seed = []
    for _, r in m.iterrows():
        # A seed without a within-run error (e.g. a count of modes) is judged by its value alone.
        err = r["error"] if math.isfinite(r["error"]) else 0.0
        per_seed.append(spec.compare.evaluate(
            r["value"], err, reference=None if math.isnan(r["reference"]) else r["reference"],
            reference_error=r["reference_error"], tolerance=r["tolerance"],
            censored=bool(r["censored"])))
    if len(m) > 1:
        value, error = _between_seed(m["value"])
        # With few seeds the spread can come out small by chance: the error is never smaller
        # than the within-run error of the mean.
        within = m["error"].to_numpy(float)
        within = within[np.isfinite(within)]
        if within.size:
            floor = float(np.sqrt(np.mean(within**2) / len(m)))
            error = max(error, floor) if math.isfinite(error) else floor
        ref, ref_err = _between_seed(m["reference"])
        if math.isnan(ref_err):
            ref_err = _nanmean(m["reference_error"])
        error_kind = f"between-seed standard error over {len(m)} seeds"
    else:
        r = m.iloc[0]
        value, error, ref, ref_err = r["value"], r["error"], r["reference"], r["reference_error"]
        error_kind = (f"between-seed standard error over {pre_aggregated} seeds" if pre_aggregated
                      else "within-run standard error"
                      + (" (single training run)" if spec.learned else ""))
    tolerance = _nanmean(m["tolerance"])
    outcome = spec.compare.evaluate(value, error, reference=None if math.isnan(ref) else ref,
                                    reference_error=ref_err, tolerance=tolerance,
                                    censored=censored)
    n_seeds = max(len(learned_seeds), pre_aggregated)
    if not np.isfinite(m["value"].to_numpy(float)).any():
        flags.append("not measured: " + "; ".join(sorted(set(m["detail"]) - {""}))[:300])
    elif spec.learned and n_seeds < 2:
        flags.append("fewer than 2 training seeds: the error omits the spread between trainings")
        outcome = Outcome(INCONCLUSIVE, outcome.tolerance, outcome.reason + "; needs ≥ 2 seeds")
    chi2 = _nanmean(m["chi2_dof"])
    if math.isfinite(chi2) and chi2 > POOR_FIT:
        flags.append(f"poor fit: chi2/dof = {chi2:.3g}")
    if censored:
        flags.append("censored: a lower limit")
    ref_used = spec.compare.reference_value(None if math.isnan(ref) else ref)
    return {
        "id": m["claim"].iloc[0], "kind": spec.kind, "source": spec.source,
        "statement": spec.format(spec.statement, params), "figure": spec.format(spec.figure, params),
        "protocol": spec.protocol, "question": spec.question,
        "measure": spec.format(spec.measure, params),
        "value": float(value), "error": float(error), "error_kind": error_kind,
        "n_seeds": n_seeds,
        "seeds_reproducing": (sum(o.outcome == HOLDS for o in per_seed)
                              if learned_seeds and not pre_aggregated else -1),
        "censored": censored, "reference": float(ref_used),
        "reference_error": float(ref_err) if math.isfinite(ref_err) else math.nan,
        "comparison": spec.compare.describe(None if math.isnan(ref) else ref),
        "tolerance": float(outcome.tolerance),
        "tolerance_source": "; ".join(x for x in [spec.tolerance_source,
                                                  *sorted(set(m["tolerance_source"]) - {""})] if x),
        "chi2_dof": chi2, "flags": "; ".join(flags), "outcome": outcome.outcome,
        "verdict": VERDICTS[spec.kind][outcome.outcome], "reason": outcome.reason,
        "detail": " | ".join(sorted(set(m["detail"]) - {""})),
    }


def evaluate(measurements: pd.DataFrame, registry=REGISTRY) -> pd.DataFrame:
    """The claims table (:data:`COLUMNS`), one row per concrete claim id, sorted by id.

    Raises ValueError if a measurement's id is not declared in the registry, or if one claim id
    has two measurements for the same seed.
    """
    missing = set(MEASUREMENT_COLUMNS) - set(measurements.columns)
    if missing:
        raise ValueError(f"measurements lack columns {sorted(missing)}")
    rows, specs = [], {}
    for cid, m in measurements.groupby("claim", sort=True):
        spec, params = find_spec(cid, registry)
        dup = m["seed"][m["seed"].duplicated()].tolist()
        if dup:
            raise ValueError(f"claim {cid!r} measured twice for seed(s) {dup}")
        specs[cid] = (spec, params)
        rows.append(_one(spec, params, m))
    df = pd.DataFrame(rows, columns=COLUMNS)
    # A claim that needs a control: reproduced only when the control is reproduced too.
    by_id = df.set_index("id") if len(df) else df
    for i, r in df.iterrows():
        spec, params = specs[r["id"]]
        if not spec.control or r["outcome"] != HOLDS:
            continue
        ctrl = spec.format(spec.control, params)
        hits = [c for c in by_id.index if fnmatch.fnmatchcase(c, ctrl)]
        ok = bool(hits) and all(by_id.loc[c, "outcome"] == HOLDS for c in hits)
        if not ok:
            state = (", ".join(f"{c}: {by_id.loc[c, 'verdict']}" for c in hits) if hits
                     else "not measured")
            df.loc[i, ["outcome", "verdict"]] = [INCONCLUSIVE, VERDICTS[spec.kind][INCONCLUSIVE]]
            df.loc[i, "reason"] = f"{r['reason']}; control {ctrl} is {state}"
    return df.reset_index(drop=True)


def declared_not_measured(measured_ids, registry=REGISTRY) -> list[str]:
    """Registry patterns that no measured id matches."""
    return [s.id for s in registry if not any(s.match(c) is not None for c in measured_ids)]


# ----------------------------------------------------------------------------- rendering


def _digits(error: float) -> int:
    """Decimals that show an error to two significant digits (at most 6)."""
    if not math.isfinite(error) or error <= 0:
        return 4
    return int(min(6, max(0, 1 - math.floor(math.log10(error)))))


def format_value(value: float, error: float, censored: bool = False) -> str:
    """``value ± error`` rounded to the digits the error allows (``≥ value`` when censored)."""
    if not math.isfinite(value):
        return "—"
    d = _digits(error)
    if censored:
        return f"≥ {value:.4g}"
    return f"{value:.{d}f} ± {error:.{d}f}" if math.isfinite(error) else f"{value:.4g}"


def _seeds(r) -> str:
    if r["n_seeds"] <= 0:
        return "—"
    if r["seeds_reproducing"] < 0:
        return f"{int(r['n_seeds'])} (aggregated)"
    return f"{int(r['seeds_reproducing'])}/{int(r['n_seeds'])}"


def result_cell(r) -> str:
    """``value ± error **verdict** (seeds reproducing/seeds)`` of one claims row (Markdown)."""
    return (f"{format_value(r['value'], r['error'], r['censored'])} **{r['verdict']}** "
            f"({_seeds(r)})")


def summary_counts(df: pd.DataFrame) -> dict:
    """Verdict counts per kind, e.g. {"check": {"pass": 9, ...}, "thesis": {...}}."""
    return {k: df[df["kind"] == k]["verdict"].value_counts().to_dict() for k in ("check", "thesis")}


def to_markdown(df: pd.DataFrame, figure_link: str | None = "figures/{figure}.png") -> str:
    """The claims table as Markdown: checks first, then thesis claims, by source."""
    lines = []
    counts = summary_counts(df)
    for kind, title in (("check", "Checks (our code vs exact or established physics)"),
                        ("thesis", "Thesis claims (what the papers state)")):
        d = df[df["kind"] == kind].sort_values(["source", "id"])
        c = ", ".join(f"{v} {k}" for k, v in sorted(counts[kind].items()))
        lines += [f"#### {title}: {c or 'none'}", ""]
        lines += ["| source | claim | value | reference | seeds | verdict | figure |",
                  "|---|---|---|---|---|---|---|"]
        for _, r in d.iterrows():
            stmt = r["statement"].replace("|", "\\|")
            fig = r["figure"]
            fig_txt = f"[{fig}]({figure_link.format(figure=fig)})" if figure_link and "*" not in fig \
                else fig
            ref = f"{r['comparison']}"
            flags = f" ⚠ {r['flags']}" if r["flags"] else ""
            lines.append(f"| {r['source']} | `{r['id']}`: {stmt} | "
                         f"{format_value(r['value'], r['error'], r['censored'])} | {ref} | "
                         f"{_seeds(r)} | **{r['verdict']}**{flags} | {fig_txt} |")
        lines.append("")
    side = protocols_markdown(df)
    if side:
        lines.append(side)
    return "\n".join(lines)


def _protocol_cells(df: pd.DataFrame, registry=REGISTRY):
    """(protocols, [(question, {protocol: rows of df, or the "not run" / "—" note})]) for the
    registry's questions; rows sorted by id."""
    specs = [s for s in registry if s.question]
    protocols = list(dict.fromkeys(s.protocol for s in specs))
    declared = {(s.question, s.protocol) for s in specs}
    out = []
    for q in dict.fromkeys(s.question for s in specs):
        cells = {}
        for proto in protocols:
            d = df[(df["question"] == q) & (df["protocol"] == proto)].sort_values("id")
            cells[proto] = d if len(d) else ("not run" if (q, proto) in declared else "—")
        out.append((q, cells))
    return protocols, out


def protocols_table(df: pd.DataFrame, registry=REGISTRY) -> pd.DataFrame:
    """The claims that test one statement under different protocols, side by side.

    Returns
    -------
    DataFrame with one row per question (registry ``question``) and one column per protocol
    met in any question; a cell lists that protocol's claims (id, value ± error, verdict,
    seeds reproducing), one per line, or "not run" when this run measured none and the
    registry declares none under that protocol ("—").
    """
    if "question" not in df:
        return pd.DataFrame(columns=["question"])
    protocols, rows = _protocol_cells(df, registry)
    table = [{"question": q, **{
        proto: cell if isinstance(cell, str) else "<br>".join(
            f"`{r['id']}`: {result_cell(r)}" for _, r in cell.iterrows())
        for proto, cell in cells.items()}} for q, cells in rows]
    return pd.DataFrame(table, columns=["question", *protocols])


def protocols_markdown(df: pd.DataFrame) -> str:
    """:func:`protocols_table` as Markdown (empty string when no question was measured)."""
    t = protocols_table(df)
    if not len(t) or all((t[c].isin(["not run", "—"])).all() for c in t.columns[1:]):
        return ""
    lines = ["#### Protocols side by side: which conclusions survive a change of protocol", "",
             "| question | " + " | ".join(t.columns[1:]) + " |",
             "|---" * len(t.columns) + "|"]
    for _, r in t.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") if i == 0 else str(v)
                                      for i, v in enumerate(r)) + " |")
    return "\n".join(lines + [""])


_HTML_STYLE = """<style>
body{font-family:system-ui,sans-serif;font-size:14px;margin:1em;max-width:1400px}
table{border-collapse:collapse;margin-bottom:2em}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}
td.v-pass,td.v-reproduced{background:#d9f2d9}td.v-fail,td.v-not-reproduced{background:#f8d7d7}
td.v-inconclusive{background:#fff3cd}small{color:#555}
span.v-reproduced{background:#d9f2d9}span.v-not-reproduced{background:#f8d7d7}
span.v-inconclusive{background:#fff3cd}
</style>"""


def to_html(df: pd.DataFrame, title: str = "Claims checked by this run") -> str:
    """The claims table as one self-contained HTML page: checks, then thesis claims."""
    import html as h

    counts = summary_counts(df)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{h.escape(title)}</title>"
             f"{_HTML_STYLE}</head><body><h2>{h.escape(title)}</h2>",
             "<p><b>Checks</b> test our code against exact or established physics (pass/fail). "
             "<b>Thesis claims</b> test what a paper states (reproduced / not reproduced / "
             "inconclusive); an effect within its error of zero is inconclusive. Value ± error "
             "is the mean ± between-seed standard error for anything learned; <i>seeds</i> = "
             "seeds that reproduce the claim on their own / seeds trained. Verdict rules: "
             "<code>coarsegrain.claims.compare</code>; declarations: "
             "<code>coarsegrain.claims.registry</code>.</p>"]
    for kind, name in (("check", "Checks"), ("thesis", "Thesis claims")):
        d = df[df["kind"] == kind].sort_values(["source", "id"])
        c = ", ".join(f"{v} {k}" for k, v in sorted(counts[kind].items()))
        parts.append(f"<h3>{name}: {h.escape(c or 'none')}</h3><table><tr><th>source</th>"
                     "<th>statement</th><th>value</th><th>comparison</th><th>seeds</th>"
                     "<th>verdict</th><th>figure</th></tr>")
        for _, r in d.iterrows():
            note = f"<br><small>{h.escape(r['reason'])}" + (
                f"; ⚠ {h.escape(r['flags'])}" if r["flags"] else "") + "</small>"
            tol = (f"<br><small>tolerance {r['tolerance']:.3g}: {h.escape(r['tolerance_source'])}"
                   "</small>") if r["tolerance_source"] else ""
            cls = "v-" + r["verdict"].replace(" ", "-")
            parts.append(
                f"<tr><td>{h.escape(r['source'])}</td><td>{h.escape(r['statement'])}<br><small>"
                f"<code>{h.escape(r['id'])}</code> — {h.escape(r['measure'])}</small></td>"
                f"<td class='num'>{h.escape(format_value(r['value'], r['error'], r['censored']))}"
                f"</td><td>{h.escape(r['comparison'])}{tol}</td><td class='num'>{_seeds(r)}</td>"
                f"<td class='{cls}'><b>{h.escape(r['verdict'])}</b>{note}</td>"
                f"<td>{h.escape(r['figure'])}</td></tr>")
        parts.append("</table>")
    parts.append(_protocols_html(df))
    parts.append("</body></html>")
    return "".join(parts)


def _protocols_html(df: pd.DataFrame, registry=REGISTRY) -> str:
    import html as h

    if "question" not in df or not (df["question"].fillna("") != "").any():
        return ""
    protocols, rows = _protocol_cells(df, registry)
    out = ["<h3>Protocols side by side: which conclusions survive a change of protocol</h3>"
           "<table><tr><th>question</th>"
           + "".join(f"<th>{h.escape(p)}</th>" for p in protocols) + "</tr>"]
    for q, cells in rows:
        out.append(f"<tr><td>{h.escape(q)}</td>")
        for cell in cells.values():
            if isinstance(cell, str):
                out.append(f"<td>{cell}</td>")
                continue
            out.append("<td>" + "<br>".join(
                f"<code>{h.escape(r['id'])}</code>: "
                f"{h.escape(format_value(r['value'], r['error'], r['censored']))} "
                f"<span class='v-{r['verdict'].replace(' ', '-')}'><b>{h.escape(r['verdict'])}"
                f"</b></span> ({_seeds(r)})" for _, r in cell.iterrows()) + "</td>")
        out.append("</tr>")
    return "".join(out) + "</table>"
