"""RBM flow (Iso et al. 2018; P1): iterate v → h → v through a trained RBM.

One flow step draws h ~ p(h | v) and then v' ~ p(v | h). Starting from Monte Carlo
configurations, from the ordered state (T = 0, all spins up) or from random spins (T = ∞), the
configurations are kept at chosen steps (default 1…29) so their temperature, magnetisation and
correlators can be followed along the flow.

Configurations are ±1 spins of shape ``(n, *lattice_shape)``; an RBM with {0, 1} units sees
(s + 1)/2 and its outputs are mapped back to ±1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from coarsegrain.runtime import torch_generator

DEFAULT_STEPS = tuple(range(1, 30))
STARTS = ("mc", "T0", "Tinf")


@dataclass
class FlowResult:
    """Configurations along an RBM flow.

    Attributes
    ----------
    configs : numpy array, shape (n_steps, n, *lattice_shape); int8 ±1 for sampled flows,
        float32 in [−1, 1] for mean-field flows
    steps : int array, shape (n_steps,), the flow step of each slice (0 = the start)
    source : label of the start ("mc", "T0", "Tinf", or a temperature label)
    """

    configs: np.ndarray
    steps: np.ndarray
    source: str = "mc"

    def stacked(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Flatten to ``(spins (n_steps * n, *lattice_shape), {"step": ..., "source": ...})``,
        ready for :func:`coarsegrain.io.write_spins`."""
        n_steps, n = self.configs.shape[:2]
        spins = self.configs.reshape((n_steps * n, *self.configs.shape[2:]))
        cols = {"step": np.repeat(self.steps.astype(np.int32), n),
                "source": np.full(n_steps * n, self.source)}
        return spins, cols


def _units(rbm) -> str:
    units = getattr(rbm, "units", "pm1")
    if units not in ("pm1", "01"):
        raise ValueError(f"rbm.units must be 'pm1' or '01'; got {units!r}")
    return units


def _rbm_device(rbm) -> torch.device:
    return rbm.W.device


def initial_configs(kind: str, n: int, lattice_shape: tuple[int, ...], seed: int = 0,
                    configs: np.ndarray | None = None) -> np.ndarray:
    """Starting configurations of a flow.

    Parameters
    ----------
    kind : "T0" (all spins +1), "Tinf" (independent fair ±1 spins) or "mc" (the first ``n`` of
        ``configs``, which must then be given)
    n : number of configurations
    lattice_shape : e.g. (L, L) or (N,)
    seed : seeds the random start

    Returns
    -------
    int8 array of shape (n, *lattice_shape), values ±1
    """
    shape = (int(n), *tuple(int(s) for s in lattice_shape))
    if kind == "T0":
        return np.ones(shape, dtype=np.int8)
    if kind == "Tinf":
        from coarsegrain.runtime import make_rng

        rng = make_rng(seed, "flow-start", "Tinf")
        return (rng.integers(0, 2, size=shape, dtype=np.int8) * 2 - 1).astype(np.int8)
    if kind == "mc":
        if configs is None:
            raise ValueError("kind='mc' needs the Monte Carlo configurations (configs=...)")
        configs = np.asarray(configs)
        if configs.shape[1:] != shape[1:]:
            raise ValueError(f"configs have lattice shape {configs.shape[1:]}, "
                             f"expected {shape[1:]}")
        if configs.shape[0] < n:
            raise ValueError(f"asked for n={n} starting configurations but only "
                             f"{configs.shape[0]} given")
        return configs[:n]
    raise ValueError(f"unknown start kind {kind!r}; allowed: {', '.join(STARTS)}")


def rbm_flow(rbm, v0, steps: Iterable[int] = DEFAULT_STEPS, *, seed: int = 0,
             generator: torch.Generator | None = None, mean_field: bool = False,
             source: str = "mc") -> FlowResult:
    """Run the RBM flow from ``v0`` and keep the configurations at ``steps``.

    Parameters
    ----------
    rbm : a :class:`coarsegrain.rbm.RBM` (anything with ``W``, ``units``, ``sample_h``,
        ``sample_v``, ``mean_h``, ``mean_v``), with ``n_visible = prod(lattice_shape)``
    v0 : array or tensor, shape (n, *lattice_shape), ±1 spins
    steps : flow steps to keep (0 = ``v0`` itself); any order, duplicates ignored
    seed : seeds the flow's generator (on the RBM's device) unless ``generator`` is given
    mean_field : replace sampling by the conditional means (a deterministic flow of
        magnetisations in [−1, 1]); the protocol's flow samples
    source : label stored with the result

    Returns
    -------
    FlowResult with configs of shape (len(steps), n, *lattice_shape)
    """
    keep = np.unique(np.asarray(list(steps), dtype=np.int64))
    if keep.size == 0 or keep[0] < 0:
        raise ValueError(f"steps must be a non-empty list of integers >= 0; got {list(steps)}")
    units = _units(rbm)
    device = _rbm_device(rbm)
    v0 = torch.as_tensor(np.asarray(v0) if not isinstance(v0, torch.Tensor) else v0)
    n = v0.shape[0]
    lattice_shape = tuple(v0.shape[1:])
    n_visible = rbm.W.shape[0]
    if int(np.prod(lattice_shape)) != n_visible:
        raise ValueError(f"configurations of lattice shape {lattice_shape} have "
                         f"{int(np.prod(lattice_shape))} sites but the RBM has {n_visible} "
                         "visible units")
    gen = generator if generator is not None else torch_generator(seed, "rbm-flow", source,
                                                                  device=device)
    v = v0.reshape(n, -1).to(device=device, dtype=rbm.W.dtype)
    if units == "01":
        v = (v + 1) / 2
    out_dtype = np.float32 if mean_field else np.int8
    out = np.empty((keep.size, n, *lattice_shape), dtype=out_dtype)

    def to_pm1(x):
        x = 2 * x - 1 if units == "01" else x
        x = x.reshape((n, *lattice_shape)).cpu().numpy()
        return x.astype(np.float32) if mean_field else np.rint(x).astype(np.int8)

    slot = {int(s): i for i, s in enumerate(keep)}
    if 0 in slot:
        out[slot[0]] = to_pm1(v)
    with torch.no_grad():
        for step in range(1, int(keep[-1]) + 1):
            if mean_field:
                v = rbm.mean_v(rbm.mean_h(v))
            else:
                h = rbm.sample_h(v, generator=gen)
                v = rbm.sample_v(h, generator=gen)
            if step in slot:
                out[slot[step]] = to_pm1(v)
    return FlowResult(configs=out, steps=keep, source=source)


def flow_from_starts(rbm, lattice_shape: tuple[int, ...], n: int, starts: Iterable[str] = STARTS,
                     mc_configs: np.ndarray | None = None, steps: Iterable[int] = DEFAULT_STEPS,
                     seed: int = 0, include_start: bool = True) -> list[FlowResult]:
    """RBM flows from several kinds of start (see :func:`initial_configs`).

    Returns one :class:`FlowResult` per start, each labelled by its kind; with
    ``include_start`` step 0 (the start itself) is kept too.
    """
    steps = list(steps)
    if include_start and 0 not in steps:
        steps = [0, *steps]
    results = []
    for kind in starts:
        v0 = initial_configs(kind, n, lattice_shape, seed=seed, configs=mc_configs)
        results.append(rbm_flow(rbm, v0, steps, seed=seed, source=kind))
    return results


def coarse_shape(n_units: int, fine_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Lattice shape to read ``n_units`` hidden units as: a square for 2D inputs, a chain for 1D.

    Only the shape: where each unit sits on it, and with which sign, is decided by
    :mod:`coarsegrain.flow.readout` (hidden units carry no geometry of their own).
    """
    if len(fine_shape) == 1:
        return (int(n_units),)
    side = int(round(np.sqrt(n_units)))
    if side * side != n_units:
        raise ValueError(f"{n_units} hidden units cannot be read as a square lattice")
    return (side, side)


READOUTS = ("placed", "reconstruction", "raw")


def stack_outputs(layers, configs, *, sample: bool = True, seed: int = 0,
                  include_input: bool = False, readout: str = "placed", sign_rule: str = "sum",
                  reconstruct_sample: bool | None = None) -> dict[int, np.ndarray]:
    """Outputs of every layer of a stacked RBM, read as configurations on a lattice.

    Parameters
    ----------
    layers : a StackedRBM or a list of RBMs (same units); layer k's visible units are layer
        k−1's hidden units
    configs : ±1 input configurations (n, *lattice_shape)
    sample : draw h ~ p(h | v) at each layer (±1 outputs, int8); otherwise propagate the
        mean-field outputs (float32 in [−1, 1])
    seed : seeds the sampling (the upward pass draws from its own stream, so the hidden states
        are the same for every ``readout``)
    include_input : also return the input as layer 0
    readout : how a hidden layer becomes a lattice (see :mod:`coarsegrain.flow.readout`):
        ``"placed"`` (default) — each unit sign-fixed by ``sign_rule`` and placed at its
        receptive-field centre on the coarse lattice; ``"reconstruction"`` — the layer mapped back
        down to the input lattice through the layers below; ``"raw"`` — row-major with raw signs
        (not invariant under the model's symmetries; kept only to show the artefact)
    sign_rule : "sum" or "max", see :func:`coarsegrain.flow.readout.unit_signs`
    reconstruct_sample : with ``readout="reconstruction"``, sample on the way down (±1 int8
        configurations) or propagate means (float32); default: the same as ``sample``

    Returns
    -------
    dict layer (1-based) → array (n, *shape): the coarse lattice of :func:`coarse_shape` for
    ``"placed"`` and ``"raw"``, the input lattice for ``"reconstruction"``
    """
    from coarsegrain.flow.readout import reconstruct_visible, stack_readouts

    if readout not in READOUTS:
        raise ValueError(f"readout={readout!r} is not allowed; choose one of {READOUTS}")
    stack = as_stack(layers)
    configs = np.asarray(configs)
    n, shape = configs.shape[0], tuple(configs.shape[1:])
    first = stack.layers[0]
    device = _rbm_device(first)
    gen = torch_generator(seed, "stack-outputs", device=device)
    out: dict[int, np.ndarray] = {0: configs} if include_input else {}
    v = torch.as_tensor(configs.reshape(n, -1), dtype=first.W.dtype, device=device)
    units = _units(first)
    hs = stack.up((v + 1) / 2 if units == "01" else v, sample=sample, generator=gen)
    if readout == "placed":
        shapes, fine = [], shape
        for h in hs:
            fine = coarse_shape(h.shape[1], fine)
            shapes.append(fine)
        readers = stack_readouts(stack, shape, sign_rule=sign_rule, hidden_shapes=shapes)
    down = sample if reconstruct_sample is None else bool(reconstruct_sample)
    down_gen = torch_generator(seed, "stack-reconstruct", device=device)
    for k, h in enumerate(hs, start=1):
        if readout == "reconstruction":
            x = reconstruct_visible(stack, h, k, sample=down, generator=down_gen)
            arr = (2 * x - 1 if units == "01" else x).cpu().numpy()
            arr = np.rint(arr).astype(np.int8) if down else arr.astype(np.float32)
            out[k] = arr.reshape((n, *shape))
            continue
        arr = (2 * h - 1 if units == "01" else h).cpu().numpy()
        arr = np.rint(arr).astype(np.int8) if sample else arr.astype(np.float32)
        if readout == "placed":
            out[k] = readers[k - 1].apply(arr)
        else:
            out[k] = arr.reshape((n, *coarse_shape(arr.shape[1], shape)))
    return out


def as_stack(layers):
    """A :class:`coarsegrain.rbm.StackedRBM` from a stack, a list of RBMs, or one RBM."""
    from coarsegrain.rbm import RBM, StackedRBM

    if isinstance(layers, StackedRBM):
        return layers
    if isinstance(layers, RBM):
        return StackedRBM([layers])
    return StackedRBM(list(getattr(layers, "layers", layers)))
