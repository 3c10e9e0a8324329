"""Training monitors for RBMs (Hinton's practical guide, plus physics observables).

Each function takes a model and data and returns plain floats; :class:`RBMMonitor` bundles
them and yields rows ``(metric, value, error)`` for the tidy training curve (columns
``update, epoch, metric, value, error``; ``error`` is NaN where none is defined and 0 for exact
quantities).

Metrics (names as they appear in the curve):

- ``reconstruction_error``: mean squared difference per unit between data and E[v|h], h ~ p(h|v)
  (a sanity check only; it is not what training optimises).
- ``free_energy_train``, ``free_energy_heldout``, ``free_energy_gap``: mean F(v) on a fixed
  training subset and on held-out data, and their difference (held-out minus train); a growing
  gap means overfitting.
- ``pseudo_loglik``: mean over samples of Σ_i log p(v_i | v_-i) (nats per sample).
- ``log_z``, ``loglik_train``, ``loglik_heldout``: by exact enumeration when
  min(n_visible, n_hidden) <= ``max_exact`` (error 0), else by AIS (error = one standard error
  of log Z) when ``ais=True``.
- ``energy_model``, ``abs_mag_model`` (and ``energy_data``, ``abs_mag_data``): 2D Ising energy per
  site and |m| of model samples (Gibbs chains from random starts) and of the data, for spin
  data on an L×L lattice (given as ``lattice_shape``); errors are standard errors over samples.

Cost: the two costly metrics are opt-in. An AIS estimate of log Z (100 chains × 3000
temperatures) or 500 Gibbs chains of 1000 steps each cost as much as hundreds of training
updates of a 100×81 RBM, so evaluating them at every monitor point would make a default training
run many times slower than the training itself. ``RBMMonitor()`` therefore computes AIS only with
``ais=True`` and model-sample physics only with a ``lattice_shape``; a trainer can evaluate both
on a sparser schedule (``RBMTrainer(monitor_heavy_per_octave=...)``). :func:`evaluate_rbm`, a
single evaluation, turns AIS on unless told otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch

from coarsegrain.rbm.model import RBM, flip, log_unit_partition, sample_from_prob

CURVE_COLUMNS = ["update", "epoch", "metric", "value", "error"]
ALL_METRICS = ("reconstruction", "free_energy", "pseudo_loglik", "loglik", "ising")
DEFAULT_METRICS = ("reconstruction", "free_energy", "pseudo_loglik", "loglik", "ising")


def _mean_se(x: torch.Tensor) -> tuple[float, float]:
    x = x.double()
    n = x.numel()
    return float(x.mean()), (float(x.std()) / math.sqrt(n) if n > 1 else math.nan)


@torch.no_grad()
def reconstruction_error(rbm: RBM, data: torch.Tensor, generator=None) -> float:
    """Mean over samples and units of (v − E[v | h])², h ~ p(h | v)."""
    rec = rbm.mean_v(rbm.sample_h(data, generator))
    return float(((data - rec) ** 2).mean())


@torch.no_grad()
def mean_free_energy(rbm: RBM, data: torch.Tensor) -> float:
    return float(rbm.free_energy(data).double().mean())


@torch.no_grad()
def pseudo_log_likelihood(rbm: RBM, data: torch.Tensor, max_elements: int = 1 << 22,
                          n_units: int | None = None, generator: torch.Generator | None = None
                          ) -> torch.Tensor:
    """Per-sample log pseudo-likelihood Σ_i log p(v_i | v_-i), shape (n,).

    p(v_i | v_-i) = σ(F(v with unit i flipped) − F(v)); the flipped fields are built in chunks of
    at most ``max_elements`` numbers. With ``n_units`` < n_visible the sum runs over that many
    distinct units drawn at random per sample (with ``generator``) and is scaled by
    n_visible / n_units: an unbiased estimate whose cost does not grow with n_visible, for large
    layers where the exact sum (n · n_visible · n_hidden terms) would cost more than training.
    """
    v = data.to(torch.float64)
    W, a, b = (t.to(torch.float64) for t in (rbm.W, rbm.a, rbm.b))
    nv, nh = W.shape
    delta = flip(v, rbm.units) - v  # change of each unit when flipped, (n, nv)
    f = v @ W + b
    base = log_unit_partition(f, rbm.units).sum(1)  # (n,)
    if n_units is None or n_units >= nv:
        units, scale = None, 1.0
        m = nv
    else:
        m = int(n_units)
        if m < 1:
            raise ValueError(f"n_units must be >= 1; got {n_units}")
        keys = torch.rand(v.shape[0], nv, generator=generator, device=v.device)
        units = keys.topk(m, dim=1).indices  # m distinct units per sample, (n, m)
        scale = nv / m
    chunk = max(1, max_elements // (m * nh))
    out = []
    for s in range(0, v.shape[0], chunk):
        if units is None:
            d, Wd, ad = delta[s:s + chunk], W[None], a
        else:
            u = units[s:s + chunk]
            d, Wd, ad = delta[s:s + chunk].gather(1, u), W[u], a[u]
        ff = f[s:s + chunk, None, :] + d[:, :, None] * Wd  # (c, m, nh)
        dF = -(d * ad) - (log_unit_partition(ff, rbm.units).sum(2) - base[s:s + chunk, None])
        out.append(torch.nn.functional.logsigmoid(dF).sum(1) * scale)
    return torch.cat(out)


@torch.no_grad()
def model_samples(rbm: RBM, n_samples: int, n_gibbs: int, generator=None, init=None
                  ) -> torch.Tensor:
    """Visible samples after ``n_gibbs`` block-Gibbs steps from ``init`` (default: uniformly
    random unit states), shape (n_samples, n_visible)."""
    if init is None:
        p = torch.full((n_samples, rbm.n_visible), 0.5, device=rbm.device, dtype=rbm.dtype)
        v = sample_from_prob(p, rbm.units, generator)
    else:
        v = init
    return rbm.gibbs(v, n_gibbs, generator)


def _as_spins(v: torch.Tensor, units: str) -> torch.Tensor:
    return v if units == "pm1" else 2.0 * v - 1.0


def chain_observables(spins: torch.Tensor, sigma: float, images: str = "ewald"
                      ) -> dict[str, tuple]:
    """Energy per site and |m| (mean, standard error) of ±1 long-range chains (n, N), with the
    chain's own couplings J(r) = r^−(1+σ) (:func:`coarsegrain.lattice.longrange.couplings`)."""
    from coarsegrain.lattice.longrange import couplings, energy_per_site

    s = spins.detach().to("cpu", torch.float64).numpy()
    e = torch.from_numpy(energy_per_site(s, couplings(s.shape[1], sigma, images)))
    return {"energy": _mean_se(e), "abs_mag": _mean_se(spins.mean(dim=1).abs())}


def ising_observables(spins: torch.Tensor, lattice_shape: Sequence[int]) -> dict[str, tuple]:
    """Energy per site and |m| (mean, standard error) of ±1 configurations on an L×L torus.

    Uses :func:`coarsegrain.lattice.ising2d.energy_per_site` and ``magnetization``.
    """
    from coarsegrain.lattice.ising2d import energy_per_site, magnetization

    s = spins.reshape(-1, *lattice_shape)
    return {"energy": _mean_se(energy_per_site(s)), "abs_mag": _mean_se(magnetization(s).abs())}


@dataclass
class RBMMonitor:
    """Evaluates the training-curve metrics of an RBM.

    Parameters
    ----------
    metrics : any of "reconstruction", "free_energy", "pseudo_loglik", "loglik", "ising"
        ("ising" needs ``lattice_shape``; "free_energy" reports the gap only with held-out data)
    n_samples : size of the fixed training and held-out subsets that metrics are computed on
    max_exact : exact log Z when min(n_visible, n_hidden) <= max_exact, else AIS (if ``ais``)
    ais : whether to estimate log Z by AIS when exact enumeration is impossible. Off by
        default: it is the costliest metric (about 2 s per evaluation for 100×81 on one CPU
        core, a few hundred updates' worth), so without it big models record no log Z and no
        log-likelihoods
    ais_chains, ais_betas : AIS run size
    lattice_shape : (L, L) for 2D Ising observables of model samples
    chain_sigma, chain_images : the long-range chain's σ (and coupling images) for its
        observables of model samples, when there is no ``lattice_shape``; with neither the
        "ising" metric (model-sample physics, the second costly one) is skipped
    n_model_samples, n_gibbs : model samples for "ising": chains from random starts, run for
        ``n_gibbs`` block-Gibbs steps
    pl_max_units : the pseudo-likelihood sums over every unit when n_visible <= pl_max_units,
        else over this many random units per sample (unbiased, with its standard error)

    A call with ``heavy=False`` skips the metrics whose cost grows with the model far faster
    than one update's (AIS log Z and the likelihoods built on it; the Gibbs chains of "ising"),
    so a trainer can evaluate them on a sparser schedule than the cheap ones.
    """

    metrics: Sequence[str] = DEFAULT_METRICS
    n_samples: int = 500
    max_exact: int = 20
    ais: bool = False
    ais_chains: int = 100
    ais_betas: int = 3000
    lattice_shape: Sequence[int] | None = None
    chain_sigma: float | None = None
    chain_images: str = "ewald"
    n_model_samples: int = 500
    n_gibbs: int = 1000
    pl_max_units: int = 256
    _train: torch.Tensor | None = field(default=None, init=False, repr=False)
    _heldout: torch.Tensor | None = field(default=None, init=False, repr=False)
    _data_rows: list = field(default_factory=list, init=False, repr=False)
    _binary: bool = field(default=True, init=False, repr=False)
    _ais_data: torch.Tensor | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        unknown = sorted(set(self.metrics) - set(ALL_METRICS))
        if unknown:
            raise ValueError(f"unknown monitor metric(s) {unknown}; allowed: {list(ALL_METRICS)}")
        if self.lattice_shape is not None:
            self.lattice_shape = tuple(int(x) for x in self.lattice_shape)

    @property
    def _physics(self):
        """Observables function of model samples (2D Ising or chain), or None."""
        if self.lattice_shape is not None:
            return lambda s: ising_observables(s, self.lattice_shape)
        if self.chain_sigma is not None:
            return lambda s: chain_observables(s, float(self.chain_sigma), self.chain_images)
        return None

    def prepare(self, rbm: RBM, train: torch.Tensor, heldout: torch.Tensor | None = None,
                generator: torch.Generator | None = None, binary: bool = True) -> None:
        """Fix the evaluation subsets (first ``n_samples`` rows of a random permutation drawn
        with ``generator`` on the CPU) and compute the data-side reference values once.
        ``train``/``heldout`` are validated (n, n_visible) tensors on the model's device."""
        def subset(x):
            if x is None:
                return None
            if x.shape[0] <= self.n_samples:
                return x
            idx = torch.randperm(x.shape[0], generator=generator)[: self.n_samples]
            return x[idx.to(x.device)]

        self._train, self._heldout, self._binary = subset(train), subset(heldout), binary
        self._ais_data = train
        self._data_rows = []
        if "ising" in self.metrics and self._physics is not None and binary:
            if self.lattice_shape is not None and math.prod(self.lattice_shape) != rbm.n_visible:
                raise ValueError(f"lattice_shape {self.lattice_shape} does not have "
                                 f"n_visible={rbm.n_visible} sites")
            obs = self._physics(_as_spins(train, rbm.units))
            self._data_rows = [("energy_data", *obs["energy"]), ("abs_mag_data", *obs["abs_mag"])]

    @torch.no_grad()
    def __call__(self, rbm: RBM, generator: torch.Generator | None = None, heavy: bool = True
                 ) -> list[tuple[str, float, float]]:
        """Rows (metric, value, error) for the current state of ``rbm``; ``heavy=False`` leaves
        out AIS-based likelihoods and the model-sample observables."""
        if self._train is None:
            raise RuntimeError("call RBMMonitor.prepare(rbm, train, heldout) first")
        rows: list[tuple[str, float, float]] = []
        tr, ho, nan = self._train, self._heldout, math.nan
        if "reconstruction" in self.metrics:
            rows.append(("reconstruction_error", reconstruction_error(rbm, tr, generator), nan))
        if "free_energy" in self.metrics:
            ft = mean_free_energy(rbm, tr)
            rows.append(("free_energy_train", ft, nan))
            if ho is not None:
                fh = mean_free_energy(rbm, ho)
                rows += [("free_energy_heldout", fh, nan), ("free_energy_gap", fh - ft, nan)]
        if "pseudo_loglik" in self.metrics and self._binary:
            n_units = self.pl_max_units if rbm.n_visible > self.pl_max_units else None
            pl = pseudo_log_likelihood(rbm, tr, n_units=n_units, generator=generator)
            rows.append(("pseudo_loglik", *_mean_se(pl)))
        if "loglik" in self.metrics and self._binary:
            rows += self._loglik_rows(rbm, generator, heavy)
        if "ising" in self.metrics and self._data_rows and heavy:
            v = model_samples(rbm, self.n_model_samples, self.n_gibbs, generator)
            obs = self._physics(_as_spins(v, rbm.units))
            rows += [("energy_model", *obs["energy"]), ("abs_mag_model", *obs["abs_mag"])]
            rows += self._data_rows
        return rows

    def _loglik_rows(self, rbm: RBM, generator, heavy: bool = True
                     ) -> list[tuple[str, float, float]]:
        if min(rbm.n_visible, rbm.n_hidden) <= self.max_exact:
            from coarsegrain.rbm.exact import exact_log_partition

            log_z, err = float(exact_log_partition(rbm, max_units=self.max_exact)), 0.0
        elif self.ais and heavy:
            from coarsegrain.rbm.ais import ais_log_partition

            res = ais_log_partition(rbm, self.ais_chains, self.ais_betas, data=self._ais_data,
                                    generator=generator)
            log_z, err = res.log_z, res.error
        else:
            return []
        rows = [("log_z", log_z, err),
                ("loglik_train", -mean_free_energy(rbm, self._train) - log_z, err)]
        if self._heldout is not None:
            rows.append(("loglik_heldout", -mean_free_energy(rbm, self._heldout) - log_z, err))
        return rows


def evaluate_rbm(rbm: RBM, train, heldout=None, *, seed: int = 0, binary: bool = True,
                 **monitor_kwargs) -> pd.DataFrame:
    """All monitor metrics of ``rbm`` once, as a DataFrame with columns metric, value, error.

    ``train``/``heldout`` may be arrays of shape (n, n_visible) or (n, *lattice); other keyword
    arguments go to :class:`RBMMonitor`, except that ``ais`` defaults to True here: one AIS run
    is affordable where one at every monitor point of a training run is not.
    """
    from coarsegrain.runtime import torch_generator

    monitor_kwargs.setdefault("ais", True)

    mon = RBMMonitor(**monitor_kwargs)
    tr = rbm.check_data(train, exact=binary, name="train")
    ho = None if heldout is None else rbm.check_data(heldout, exact=binary, name="heldout")
    mon.prepare(rbm, tr, ho, torch_generator(seed, "rbm-monitor-subset"), binary=binary)
    rows = mon(rbm, torch_generator(seed, "rbm-monitor", device=rbm.device))
    return pd.DataFrame(rows, columns=["metric", "value", "error"])
