"""Which checkpoint of a training run the flows use: a stated rule on held-out data.

Training longer is not training better: on a finite data set the held-out log-likelihood of an
RBM rises, peaks and falls as the model overfits, while the training log-likelihood keeps rising.
The last checkpoint is therefore not the model to analyse. The rule used here
(:func:`select_checkpoint`):

1. **Held-out log-likelihood** (``metric="loglik_heldout"``, exact or AIS, nats per sample).
   Let ``u*`` be the monitored update with the largest value ``ℓ*``. Update ``u`` is *equivalent*
   to ``u*`` when ``ℓ_u ≥ ℓ* − max(tolerance, n_sigma · √(σ_u² + σ*²))`` (σ: the curve's error
   column, AIS standard errors; 0 for exact values). Among equivalent updates the earliest is
   chosen (``prefer="earliest"``: the least-trained model that the held-out data cannot tell
   from the best, i.e. early stopping with a noise margin) or ``u*`` itself
   (``prefer="best"``).
2. **Fallback: free-energy gap** (when the curve has no finite held-out likelihood): the latest
   update whose gap ``F_heldout − F_train`` (nats per sample) is ≤ ``gap_max``; if the gap
   exceeds ``gap_max`` everywhere, the update with the smallest gap.
3. **Last resort**: the last monitored update, flagged ``rule="last"``.

Only updates in ``available`` (e.g. those with stored parameters, see
``RBMTrainer(snapshot_at=...)``) are candidates. :func:`rbm_at` rebuilds the model at the chosen
update from the trainer's snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PREFER = ("earliest", "best")


@dataclass
class CheckpointChoice:
    """The checkpoint a rule picked.

    Attributes
    ----------
    update : the chosen update
    metric : the curve metric the rule used ("loglik_heldout", "free_energy_gap" or "" for the
        last-resort rule)
    value, error : that metric at the chosen update (nats per sample; error NaN if none)
    rule : "heldout_loglik", "free_energy_gap" or "last"
    statement : the rule in words, with its parameters, for tables and reports
    table : DataFrame with columns update, value, error, candidate (bool: equivalent to the
        best under the rule) for every update considered
    """

    update: int
    metric: str
    value: float
    error: float
    rule: str
    statement: str
    table: pd.DataFrame = field(repr=False)

    def as_dict(self) -> dict:
        """The choice as one flat row (without the table)."""
        return {"update": int(self.update), "metric": self.metric, "value": float(self.value),
                "error": float(self.error), "rule": self.rule, "statement": self.statement}


def _series(curve: pd.DataFrame, metric: str, available) -> pd.DataFrame:
    """Rows of one metric as (update, value, error), finite values only, sorted by update."""
    d = curve[curve["metric"] == metric]
    d = pd.DataFrame({"update": d["update"].to_numpy(np.int64),
                      "value": d["value"].to_numpy(float),
                      "error": (d["error"].to_numpy(float) if "error" in d
                                else np.full(len(d), np.nan))})
    d = d[np.isfinite(d["value"])]
    if available is not None:
        d = d[d["update"].isin(available)]
    if d["update"].duplicated().any():
        raise ValueError(f"curve has several {metric!r} rows for one update; select one layer "
                         "(layer=...) or one run first")
    return d.sort_values("update", kind="stable").reset_index(drop=True)


def select_checkpoint(curve: pd.DataFrame, *, metric: str = "loglik_heldout",
                      tolerance: float = 0.0, n_sigma: float = 1.0, prefer: str = "earliest",
                      gap_max: float = 1.0, available: Iterable[int] | None = None,
                      layer: int | None = None) -> CheckpointChoice:
    """Choose the checkpoint of a training run by the rule of the module docstring.

    Parameters
    ----------
    curve : training curve (columns update, metric, value, error[, layer]) as returned by
        :meth:`coarsegrain.rbm.RBMTrainer.fit` or :func:`coarsegrain.rbm.stack.train_stack`
    metric : the held-out score to maximise (nats per sample)
    tolerance : absolute margin (nats) within which updates count as equivalent to the best
    n_sigma : margin in units of the combined error of the two values
    prefer : "earliest" or "best" among equivalent updates
    gap_max : fallback rule's largest acceptable free-energy gap (nats per sample)
    available : only these updates are candidates (e.g. ``trainer.snapshots.keys()``)
    layer : select the rows of this layer when the curve has a ``layer`` column

    Returns
    -------
    :class:`CheckpointChoice`

    Raises
    ------
    ValueError
        bad arguments, a curve without the needed columns, or no candidate update at all.
    """
    if prefer not in PREFER:
        raise ValueError(f"prefer={prefer!r} is not allowed; choose one of {PREFER}")
    for name, val in (("tolerance", tolerance), ("n_sigma", n_sigma), ("gap_max", gap_max)):
        if not (np.isfinite(val) and val >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {val!r}")
    missing = {"update", "metric", "value"} - set(curve.columns)
    if missing:
        raise ValueError(f"curve lacks columns {sorted(missing)}; has {list(curve.columns)}")
    if "layer" in curve.columns:
        layers = sorted(pd.unique(curve["layer"]))
        if layer is None and len(layers) > 1:
            raise ValueError(f"curve holds layers {layers}; pass layer=")
        if layer is not None:
            if layer not in layers:
                raise ValueError(f"layer={layer!r} is not in the curve's layers {layers}")
            curve = curve[curve["layer"] == layer]
    if available is not None:
        available = {int(u) for u in available}
        if not available:
            raise ValueError("available is empty: no update has stored parameters")

    d = _series(curve, metric, available)
    if len(d):
        best = int(np.argmax(d["value"].to_numpy()))  # first maximum on exact ties
        err = np.nan_to_num(d["error"].to_numpy(), nan=0.0)
        margin = np.maximum(tolerance, n_sigma * np.sqrt(err ** 2 + err[best] ** 2))
        cand = d["value"].to_numpy() >= d["value"].iloc[best] - margin
        i = int(np.flatnonzero(cand)[0]) if prefer == "earliest" else best
        statement = (f"{prefer} update whose {metric} is within max({tolerance:g} nats, "
                     f"{n_sigma:g} sigma) of the maximum over {len(d)} monitored updates")
        return CheckpointChoice(int(d["update"].iloc[i]), metric, float(d["value"].iloc[i]),
                                float(d["error"].iloc[i]), "heldout_loglik", statement,
                                d.assign(candidate=cand))
    g = _series(curve, "free_energy_gap", available)
    if len(g):
        ok = g["value"].to_numpy() <= gap_max
        i = int(np.flatnonzero(ok)[-1]) if ok.any() else int(np.argmin(g["value"].to_numpy()))
        statement = (f"no finite {metric}: latest update with free-energy gap <= {gap_max:g} "
                     "nats (else the smallest gap)")
        return CheckpointChoice(int(g["update"].iloc[i]), "free_energy_gap",
                                float(g["value"].iloc[i]), float(g["error"].iloc[i]),
                                "free_energy_gap", statement, g.assign(candidate=ok))
    ups = np.unique(curve["update"].to_numpy(np.int64))
    if available is not None:
        ups = ups[np.isin(ups, sorted(available))] if len(ups) else np.asarray(sorted(available))
    if not len(ups):
        raise ValueError("no candidate update: the curve is empty and no update is available")
    table = pd.DataFrame({"update": ups, "value": np.nan, "error": np.nan, "candidate": False})
    table.loc[table.index[-1], "candidate"] = True
    return CheckpointChoice(int(ups[-1]), "", np.nan, np.nan, "last",
                            f"no finite {metric} or free-energy gap: last update", table)


def rbm_at(model, update: int, snapshots: Mapping | None = None):
    """The RBM with the parameters stored at ``update``.

    Parameters
    ----------
    model : an :class:`coarsegrain.rbm.RBMTrainer` run with ``snapshot_at`` set (its ``rbm``
        and ``snapshots`` are used), or an :class:`coarsegrain.rbm.RBM` together with
        ``snapshots``
    update : the update to restore (e.g. ``select_checkpoint(...).update``)
    snapshots : mapping update → {"W", "a", "b"} tensors (default ``model.snapshots``)

    Returns
    -------
    a new :class:`coarsegrain.rbm.RBM` (same architecture and device as the model); the model
    itself is not changed
    """
    from coarsegrain.rbm.model import RBM

    rbm = getattr(model, "rbm", model)
    if not isinstance(rbm, RBM):
        raise ValueError(f"model must be an RBMTrainer or an RBM; got {type(model).__name__}")
    snaps = snapshots if snapshots is not None else getattr(model, "snapshots", None)
    if not snaps:
        raise ValueError("no parameter snapshots: train with RBMTrainer(snapshot_at='heavy') "
                         "or pass snapshots=")
    if int(update) not in snaps:
        raise ValueError(f"update={update!r} has no snapshot; available: {sorted(snaps)}")
    out = RBM.from_state(snaps[int(update)], rbm.config(), device=rbm.device,
                         source=f"snapshot at update {update}")
    out.init_std = rbm.init_std
    out.meta = {**getattr(rbm, "meta", {}), "update": int(update)}
    return out


def select_rbm(trainer, curve: pd.DataFrame | None = None, **rule):
    """Apply :func:`select_checkpoint` to a trainer's curve over the updates it has snapshots
    of, and return ``(rbm at the chosen update, CheckpointChoice)``."""
    curve = trainer.curve() if curve is None else curve
    choice = select_checkpoint(curve, available=trainer.snapshots.keys(), **rule)
    return rbm_at(trainer, choice.update), choice
