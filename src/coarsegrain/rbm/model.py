"""Restricted Boltzmann machines with ±1 or {0,1} units.

Energy (both unit types)::

    E(v, h) = −aᵀv − bᵀh − vᵀWh,      p(v, h) = exp(−E(v, h)) / Z

with ``W`` of shape (n_visible, n_hidden), visible biases ``a`` (n_visible,) and hidden biases
``b`` (n_hidden,). The conditionals factorise over units; for a unit with local field
``f`` (``f = vᵀW + b`` for the hidden layer, ``f = Wh + a`` for the visible layer):

- ``units="pm1"`` (s ∈ {−1, +1}, the P1 authors' convention): p(s=+1 | f) = (1 + tanh f)/2,
  E[s | f] = tanh f.
- ``units="01"`` (s ∈ {0, 1}, Iso et al.): p(s=1 | f) = sigmoid(f), E[s | f] = sigmoid(f).

All methods take batches: visible tensors of shape (batch, n_visible), hidden tensors of shape
(batch, n_hidden), on the model's device and dtype (inputs are converted). The model is a
``torch.nn.Module`` whose parameters do not require gradients: training uses the analytic
log-likelihood gradient (positive minus negative phase statistics, see
:mod:`coarsegrain.rbm.train`), which is cheaper than autograd.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

UNITS = ("pm1", "01")


def check_units(units: str) -> str:
    if units not in UNITS:
        raise ValueError(f"units={units!r} is not allowed; choose 'pm1' (±1 spins) or '01' ({{0,1}})")
    return units


# ----------------------------------------------------------------------------- unit algebra
# These helpers are shared by the model, the trainer's fast path, AIS and the monitors.


def unit_mean(field: torch.Tensor, units: str) -> torch.Tensor:
    """E[s | field]: tanh for ±1 units, sigmoid for {0,1} units."""
    if units == "pm1":
        # 2σ(2f) − 1 == tanh(f); torch's CPU sigmoid is vectorised, its tanh is several times slower.
        return torch.sigmoid(2.0 * field).mul_(2.0).sub_(1.0)
    return torch.sigmoid(field)


def unit_prob(field: torch.Tensor, units: str) -> torch.Tensor:
    """p(s = +1 | field) for ±1 units (= σ(2f)), p(s = 1 | field) for {0,1} units (= σ(f))."""
    return torch.sigmoid(2.0 * field if units == "pm1" else field)


def sample_from_prob(p: torch.Tensor, units: str, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Draw units with p(up) = ``p``; returns a new tensor with values ±1 or {0,1}."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    s = u.lt_(p)  # in place: u now holds 1.0 where u < p, else 0.0
    if units == "pm1":
        s.mul_(2.0).sub_(1.0)
    return s


def log_unit_partition(field: torch.Tensor, units: str) -> torch.Tensor:
    """log Σ_s exp(s·field) per unit: log(2 cosh f) for ±1 units, softplus(f) for {0,1}."""
    if units == "pm1":
        af = field.abs()
        return af + F.softplus(-2.0 * af)
    return F.softplus(field)


def flip(v: torch.Tensor, units: str) -> torch.Tensor:
    """The opposite state of each unit: −v for ±1 units, 1 − v for {0,1} units."""
    return -v if units == "pm1" else 1.0 - v


# ----------------------------------------------------------------------------- validation


def as_matrix(x: Any, n_features: int, *, device=None, dtype=torch.float32,
              name: str = "data") -> torch.Tensor:
    """Check shape and finiteness of a data set and return it as a (n_samples, n_features)
    tensor. ``x`` may have shape (n_samples, n_features) or (n_samples, *lattice_shape) with
    ``prod(lattice_shape) == n_features``; anything else raises ValueError naming the shape."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    shape = tuple(t.shape)
    want = f"(n_samples, {n_features}) or (n_samples, *lattice) with {n_features} sites"
    if t.ndim < 2 or t.shape[0] == 0:
        raise ValueError(f"{name} has shape {shape}; expected a non-empty batch of shape {want}")
    n_sites = math.prod(shape[1:])
    if n_sites != n_features:
        raise ValueError(f"{name} has shape {shape} ({n_sites} values per sample) but the model "
                         f"has {n_features} visible units; expected shape {want}")
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} has dtype {t.dtype}; expected real numbers")
    t = t.reshape(shape[0], n_features).to(device=device, dtype=dtype)
    # One pass: aminmax propagates NaN, and ±inf shows up in the extremes.
    lo, hi = (float(x) for x in t.aminmax())
    if math.isfinite(lo) and math.isfinite(hi):
        return t
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        rows = (~finite).any(dim=1).nonzero().flatten()
        raise ValueError(f"{name} contains NaN or inf in {len(rows)} of {shape[0]} samples "
                         f"(first at row {int(rows[0])})")
    return t


def as_visible(x: Any, n_visible: int, units: str, *, exact: bool = True,
               device=None, dtype=torch.float32, name: str = "data") -> torch.Tensor:
    """Validate and convert a data set to a (n_samples, n_visible) tensor.

    Parameters
    ----------
    x : array or tensor of shape (n_samples, n_visible) or (n_samples, *lattice_shape) with
        ``prod(lattice_shape) == n_visible`` (e.g. spins from :func:`coarsegrain.io.read_spins`).
    n_visible : number of visible units of the model
    units : "pm1" or "01"
    exact : if True the values must be exactly the unit states (±1 or {0,1}); if False they may
        be means in between ([−1, 1] or [0, 1]), as when a stack propagates mean activations.
    device, dtype : where and as what the result lives

    Raises
    ------
    ValueError
        naming the expected shape, or the offending values (NaN/inf, non-spin values).
    """
    check_units(units)
    t = as_matrix(x, n_visible, device=device, dtype=dtype, name=name)
    lo, hi = (-1.0, 1.0) if units == "pm1" else (0.0, 1.0)
    tmin, tmax = (float(x) for x in t.aminmax())
    if tmin >= lo and tmax <= hi:
        if not exact:
            return t
        # within [lo, hi], exact unit values <=> |t| == 1 (±1) or t == t² ({0,1})
        bad_any = (t.abs() != 1) if units == "pm1" else (t * t != t)
        if not bool(bad_any.any()):
            return t
    if exact:
        bad = (t != lo) & (t != hi)
        allowed = "exactly -1 or +1" if units == "pm1" else "exactly 0 or 1"
    else:
        bad = (t < lo) | (t > hi)
        allowed = f"in [{lo:g}, {hi:g}]"
    if bool(bad.any()):
        vals = torch.unique(t[bad])[:5].tolist()
        row = int(bad.any(dim=1).nonzero()[0])
        hint = (" (map {0,1} data with 2x-1, or use units='01')" if units == "pm1"
                else " (map ±1 data with (x+1)/2, or use units='pm1')")
        raise ValueError(f"{name} for a units={units!r} RBM must hold values {allowed}; "
                         f"found {vals} (first at row {row}){hint}")
    return t


# ----------------------------------------------------------------------------- the model


class WeightMatrixMixin:
    """What a two-layer model with weights ``W`` of shape (n_visible, n_hidden) needs to take
    input batches: size checks, ``device``/``dtype`` and batch conversion.

    Shared by :class:`RBM` and :class:`coarsegrain.rbm.autoencoder.Autoencoder`; the host class
    sets ``W`` (and ``n_visible``, ``n_hidden``). Device and dtype are read off ``W`` rather than
    stored, so they stay right after ``module.to(...)``.
    """

    @staticmethod
    def _check_sizes(n_visible, n_hidden) -> None:
        """Raise ValueError unless both layer sizes are positive integers (bools excluded).

        Parameters
        ----------
        n_visible, n_hidden : the requested layer sizes
        """
        for name, val in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{name} must be a positive integer; got {val!r}")

    @property
    def device(self) -> torch.device:
        return self.W.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    def _batch(self, x, n: int, name: str) -> torch.Tensor:
        """``x`` as a (batch, n) tensor on the model's device and dtype.

        Parameters
        ----------
        x : tensor or array-like of shape (batch, n)
        n : the layer size the batch must match
        name : how error messages call ``x``

        Raises
        ------
        ValueError
            naming ``name``, its shape and the expected one.
        """
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim != 2 or x.shape[1] != n:
            raise ValueError(f"{name} has shape {tuple(x.shape)}; expected (batch, {n})")
        if x.dtype != self.dtype or x.device != self.device:
            x = x.to(device=self.device, dtype=self.dtype)
        return x


class RBM(WeightMatrixMixin, torch.nn.Module):
    """A restricted Boltzmann machine.

    Parameters
    ----------
    n_visible, n_hidden : numbers of units
    units : "pm1" (±1 units, tanh conditionals) or "01" ({0,1} units, sigmoid conditionals)
    bias : whether the biases ``a``, ``b`` are trained; if False they stay zero
    init_std : weights start as N(0, init_std²) (P1: 0.05); biases start at zero
    device : "cpu" (default), "cuda", "cuda:N", "auto" (CUDA when a GPU is visible) or a
        torch.device; CUDA without a visible GPU raises
        :class:`coarsegrain.runtime.DeviceUnavailableError` (a ValueError) saying what to set
    dtype : floating dtype of the parameters
    seed : int; the same seed gives the same initial weights on any device. ``None`` uses
        torch's global generator.

    Attributes
    ----------
    W : Parameter (n_visible, n_hidden)
    a : Parameter (n_visible,) visible biases
    b : Parameter (n_hidden,) hidden biases
    meta : dict, the metadata stored with a loaded checkpoint (empty for a new model)
    """

    def __init__(self, n_visible: int, n_hidden: int, units: str = "pm1", bias: bool = True,
                 init_std: float = 0.05, device=None, dtype=torch.float32,
                 seed: int | None = None):
        super().__init__()
        self._check_sizes(n_visible, n_hidden)
        from coarsegrain.runtime import resolve_device

        device = resolve_device(device)
        if not (isinstance(init_std, (int, float)) and init_std >= 0 and math.isfinite(init_std)):
            raise ValueError(f"init_std must be a finite number >= 0; got {init_std!r}")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype; got {dtype}")
        self.n_visible = int(n_visible)
        self.n_hidden = int(n_hidden)
        self.units = check_units(units)
        self.bias = bool(bias)
        self.init_std = float(init_std)
        if seed is None:
            w = torch.randn(self.n_visible, self.n_hidden, dtype=torch.float64)
        else:
            from coarsegrain.runtime import torch_generator

            w = torch.randn(self.n_visible, self.n_hidden, dtype=torch.float64,
                            generator=torch_generator(seed, "rbm-init"))
        # Drawn on the CPU in float64, then moved: the same seed gives the same model everywhere.
        w = (w * self.init_std).to(device=device, dtype=dtype)
        self.W = torch.nn.Parameter(w, requires_grad=False)
        self.a = torch.nn.Parameter(torch.zeros(self.n_visible, device=device, dtype=dtype),
                                    requires_grad=False)
        self.b = torch.nn.Parameter(torch.zeros(self.n_hidden, device=device, dtype=dtype),
                                    requires_grad=False)
        self.meta: dict = {}

    # ------------------------------------------------------------------ properties
    def config(self) -> dict:
        """The constructor arguments that define the architecture (stored in checkpoints)."""
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "units": self.units,
                "bias": self.bias, "init_std": self.init_std,
                "dtype": str(self.dtype).removeprefix("torch.")}

    def extra_repr(self) -> str:
        return (f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, units={self.units!r}, "
                f"bias={self.bias}")

    # ------------------------------------------------------------------ input handling
    def check_data(self, data, exact: bool = True, name: str = "data") -> torch.Tensor:
        """Validate a data set for this model and return it as a (n, n_visible) tensor on the
        model's device (see :func:`as_visible`; ``exact`` demands exact unit values)."""
        return as_visible(data, self.n_visible, self.units, exact=exact, device=self.device,
                          dtype=self.dtype, name=name)

    # ------------------------------------------------------------------ fields and conditionals
    def hidden_field(self, v) -> torch.Tensor:
        """``v @ W + b``, shape (batch, n_hidden)."""
        v = self._batch(v, self.n_visible, "v")
        return torch.addmm(self.b, v, self.W)

    def visible_field(self, h) -> torch.Tensor:
        """``h @ W.T + a``, shape (batch, n_visible)."""
        h = self._batch(h, self.n_hidden, "h")
        return torch.addmm(self.a, h, self.W.t())

    def mean_h(self, v) -> torch.Tensor:
        """E[h | v], shape (batch, n_hidden)."""
        return unit_mean(self.hidden_field(v), self.units)

    def mean_v(self, h) -> torch.Tensor:
        """E[v | h], shape (batch, n_visible)."""
        return unit_mean(self.visible_field(h), self.units)

    def sample_h(self, v, generator: torch.Generator | None = None) -> torch.Tensor:
        """h ~ p(h | v), shape (batch, n_hidden), values ±1 or {0,1}."""
        return sample_from_prob(unit_prob(self.hidden_field(v), self.units), self.units, generator)

    def sample_v(self, h, generator: torch.Generator | None = None) -> torch.Tensor:
        """v ~ p(v | h), shape (batch, n_visible), values ±1 or {0,1}."""
        return sample_from_prob(unit_prob(self.visible_field(h), self.units), self.units,
                                generator)

    def gibbs(self, v, k: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """``k`` steps of block Gibbs sampling v → h → v; returns the final visible states."""
        if int(k) < 0:
            raise ValueError(f"k must be >= 0; got {k}")
        v = self._batch(v, self.n_visible, "v")
        for _ in range(int(k)):
            v = self.sample_v(self.sample_h(v, generator), generator)
        return v

    # ------------------------------------------------------------------ energies
    def energy(self, v, h) -> torch.Tensor:
        """E(v, h) = −aᵀv − bᵀh − vᵀWh, shape (batch,)."""
        v = self._batch(v, self.n_visible, "v")
        h = self._batch(h, self.n_hidden, "h")
        if v.shape[0] != h.shape[0]:
            raise ValueError(f"v and h batch sizes differ: {v.shape[0]} vs {h.shape[0]}")
        return -(v @ self.a) - (h @ self.b) - ((v @ self.W) * h).sum(dim=1)

    def free_energy(self, v) -> torch.Tensor:
        """F(v) = −log Σ_h exp(−E(v, h)) = −aᵀv − Σ_j log Σ_{h_j} exp(h_j f_j(v)), shape (batch,).

        Valid for real-valued ``v`` too (e.g. mean activations); p(v) = exp(−F(v)) / Z.
        """
        v = self._batch(v, self.n_visible, "v")
        f = torch.addmm(self.b, v, self.W)
        return -(v @ self.a) - log_unit_partition(f, self.units).sum(dim=1)

    def free_energy_hidden(self, h) -> torch.Tensor:
        """F(h) = −bᵀh − Σ_i log Σ_{v_i} exp(v_i f_i(h)), the hidden marginal's free energy."""
        h = self._batch(h, self.n_hidden, "h")
        f = torch.addmm(self.a, h, self.W.t())
        return -(h @ self.b) - log_unit_partition(f, self.units).sum(dim=1)

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """W, a, b detached on the CPU (what :meth:`save` stores)."""
        return {k: getattr(self, k).detach().cpu().clone() for k in ("W", "a", "b")}

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> None:
        """Write W, a, b and the architecture (plus ``meta``, e.g. provenance) atomically.

        The file loads with ``torch.load(weights_only=True)`` (see
        :func:`coarsegrain.io.save_checkpoint`).
        """
        from coarsegrain.io import save_checkpoint

        save_checkpoint(self.state_tensors(), path, meta={**(meta or {}), "rbm": self.config()})

    @classmethod
    def from_state(cls, state: dict, config: dict, device=None, source: str = "state"
                   ) -> RBM:
        """Build an RBM from saved tensors ``W, a, b`` and its :meth:`config` dict."""
        from coarsegrain.io import CoarsegrainIOError

        missing = [k for k in ("W", "a", "b") if k not in state]
        if missing or not isinstance(config, dict) or "units" not in config:
            raise CoarsegrainIOError(f"{source}: not an RBM checkpoint (missing "
                                     f"{missing or 'rbm config'})")
        W, a, b = state["W"], state["a"], state["b"]
        if W.ndim != 2 or a.shape != (W.shape[0],) or b.shape != (W.shape[1],):
            raise CoarsegrainIOError(f"{source}: inconsistent RBM tensors W{tuple(W.shape)}, "
                                     f"a{tuple(a.shape)}, b{tuple(b.shape)}")
        if not all(bool(torch.isfinite(t).all()) for t in (W, a, b)):
            raise CoarsegrainIOError(f"{source}: RBM parameters contain NaN or inf")
        rbm = cls(W.shape[0], W.shape[1], units=config["units"], bias=config.get("bias", True),
                  init_std=0.0, device=device, dtype=W.dtype)
        rbm.init_std = float(config.get("init_std", 0.05))
        with torch.no_grad():
            rbm.W.copy_(W)
            rbm.a.copy_(a)
            rbm.b.copy_(b)
        return rbm

    @classmethod
    def load(cls, path: str | os.PathLike, device=None) -> RBM:
        """Load a model written by :meth:`save` (or a training checkpoint).

        Raises :class:`coarsegrain.io.CoarsegrainIOError` naming the file if it is missing,
        corrupted or not an RBM checkpoint. The stored metadata is in ``rbm.meta``.
        """
        from coarsegrain.io import load_checkpoint

        state, meta = load_checkpoint(path, map_location="cpu")
        rbm = cls.from_state(state, meta.get("rbm"), device=device, source=str(path))
        rbm.meta = meta
        return rbm
