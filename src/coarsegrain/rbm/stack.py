"""Stacked RBMs trained greedily layer by layer (Hinton & Salakhutdinov 2006).

Layer ℓ+1 is trained on the hidden representation that layer ℓ produces from its own training
data: hidden samples h ~ p(h|v) (``propagate="sample"``, binary data for every layer) or mean
activations E[h|v] (``propagate="mean"``, real-valued data). In P1 each layer has 4× fewer
units than the one below (a 2×2 block step), e.g. 4096 → 1024 → 256 → 64.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from coarsegrain.rbm.model import RBM
from coarsegrain.rbm.monitors import RBMMonitor
from coarsegrain.rbm.train import RBMTrainer

PROPAGATE = ("sample", "mean")


def _layer_seed(seed: int | None, layer: int) -> int | None:
    if seed is None:
        return None
    from coarsegrain.runtime import seed_sequence

    return int(seed_sequence(seed, "stack-layer", layer).generate_state(1, dtype=np.uint64)[0] >> 1)


class StackedRBM(torch.nn.Module):
    """A stack of RBMs; layer ℓ's hidden units are layer ℓ+1's visible units.

    Parameters
    ----------
    layers : layer sizes ``[n_visible, n_1, n_2, ...]`` or a list of :class:`RBM`
    units, bias, init_std, device, dtype : passed to every new :class:`RBM`
    seed : each layer's initial weights come from a stream derived from (seed, layer)

    Attributes
    ----------
    layers : torch.nn.ModuleList of RBM (indexable like a list)
    sizes : [n_visible, n_1, ...]
    """

    def __init__(self, layers: Sequence[int] | Sequence[RBM], units: str = "pm1",
                 bias: bool = True, init_std: float = 0.05, device=None, dtype=torch.float32,
                 seed: int | None = None):
        super().__init__()
        layers = list(layers)
        if layers and all(isinstance(x, RBM) for x in layers):
            rbms = layers
        elif len(layers) >= 2 and all(isinstance(x, (int, np.integer)) for x in layers):
            rbms = [RBM(int(nv), int(nh), units=units, bias=bias, init_std=init_std,
                        device=device, dtype=dtype, seed=_layer_seed(seed, i))
                    for i, (nv, nh) in enumerate(zip(layers[:-1], layers[1:], strict=True))]
        else:
            raise ValueError("layers must be a list of at least two sizes [n_visible, n_1, ...] "
                             f"or a list of RBMs; got {layers!r}")
        for i in range(len(rbms) - 1):
            if rbms[i].n_hidden != rbms[i + 1].n_visible:
                raise ValueError(f"layer {i} has n_hidden={rbms[i].n_hidden} but layer {i + 1} "
                                 f"has n_visible={rbms[i + 1].n_visible}")
        if len({r.units for r in rbms}) > 1:
            raise ValueError("all layers must use the same units")
        self.layers = torch.nn.ModuleList(rbms)
        self.meta: dict = {}

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_visible] + [r.n_hidden for r in self.layers]

    @property
    def units(self) -> str:
        return self.layers[0].units

    def __len__(self) -> int:
        return len(self.layers)

    @torch.no_grad()
    def up(self, v, sample: bool = True, generator: torch.Generator | None = None
           ) -> list[torch.Tensor]:
        """Propagate visible data upward; returns one (batch, n_ℓ) tensor per layer.

        ``sample=True``: h_ℓ ~ p(h_ℓ | h_{ℓ−1}) from the previous layer's samples;
        ``sample=False``: mean activations E[h_ℓ | h_{ℓ−1}] from the previous layer's means.
        """
        out, x = [], v
        for rbm in self.layers:
            x = rbm.sample_h(x, generator) if sample else rbm.mean_h(x)
            out.append(x)
        return out

    @torch.no_grad()
    def down(self, h, sample: bool = True, generator: torch.Generator | None = None
             ) -> list[torch.Tensor]:
        """Propagate top-layer states downward; returns the states of each lower layer, from
        the one below the top down to the visible layer (the last entry)."""
        out, x = [], h
        for rbm in reversed(self.layers):
            x = rbm.sample_v(x, generator) if sample else rbm.mean_v(x)
            out.append(x)
        return out

    def config(self) -> dict:
        return {"sizes": self.sizes, "layers": [r.config() for r in self.layers]}

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> None:
        """Write all layers (``layer{i}.W`` etc.) and the architecture in one checkpoint."""
        from coarsegrain.io import save_checkpoint

        state = {f"layer{i}.{k}": v for i, r in enumerate(self.layers)
                 for k, v in r.state_tensors().items()}
        save_checkpoint(state, path, meta={**(meta or {}), "stack": self.config()})

    @classmethod
    def load(cls, path: str | os.PathLike, device=None) -> StackedRBM:
        from coarsegrain.io import CoarsegrainIOError, load_checkpoint

        state, meta = load_checkpoint(path, map_location="cpu")
        cfg = meta.get("stack")
        if not isinstance(cfg, dict) or "layers" not in cfg:
            raise CoarsegrainIOError(f"{path}: not a stacked-RBM checkpoint")
        rbms = []
        for i, lc in enumerate(cfg["layers"]):
            sub = {k: state.get(f"layer{i}.{k}") for k in ("W", "a", "b")}
            if any(v is None for v in sub.values()):
                raise CoarsegrainIOError(f"{path}: layer {i} tensors missing")
            rbms.append(RBM.from_state(sub, lc, device=device, source=f"{path} layer {i}"))
        stack = cls(rbms)
        stack.meta = meta
        return stack


def train_stack(stack: StackedRBM, data, heldout=None, *, propagate: str = "sample",
                seed: int = 0, lattice_shape: Sequence[int] | None = None,
                monitor_kwargs: dict | None = None,
                layer_kwargs: Sequence[dict] | None = None,
                checkpoint_dir: str | os.PathLike | None = None,
                select: Mapping | None = None,
                **trainer_kwargs) -> pd.DataFrame:
    """Greedy layer-wise training; returns the concatenated curves with a ``layer`` column.

    Parameters
    ----------
    stack : the :class:`StackedRBM` (trained in place)
    data, heldout : visible training (and held-out) data, (n, n_visible) or (n, *lattice)
    propagate : "sample" (hidden samples) or "mean" (mean activations) as the next layer's data
    seed : each layer's trainer gets a seed derived from (seed, layer)
    lattice_shape : lattice of the visible layer, for the Ising monitor of layer 0
    monitor_kwargs : arguments of each layer's :class:`RBMMonitor` (``False`` in
        ``trainer_kwargs["monitor"]`` switches monitoring off)
    layer_kwargs : optional per-layer overrides of ``trainer_kwargs``
    checkpoint_dir : each layer checkpoints into ``checkpoint_dir/layer{i}``
    select : checkpoint rule per layer, ``{snapshot_at, metric, tolerance, n_sigma, prefer,
        gap_max}`` (see :func:`coarsegrain.rbm.selection.select_checkpoint`). Each layer is
        set to the update the rule picks on held-out data *before* the next layer is trained,
        so upper layers learn from the selected layer's outputs, not from the last update's.
        The curve then has a ``selected_update`` column (per layer) and ``rule``. ``None``
        (default) or no ``heldout``: every layer keeps its last update.
    trainer_kwargs : :class:`RBMTrainer` arguments for every layer
    """
    from coarsegrain.runtime import torch_generator

    if propagate not in PROPAGATE:
        raise ValueError(f"propagate={propagate!r} is not allowed; choose one of {PROPAGATE}")
    layer_kwargs = list(layer_kwargs or [{}] * len(stack))
    if len(layer_kwargs) != len(stack):
        raise ValueError(f"layer_kwargs has {len(layer_kwargs)} entries for {len(stack)} layers")
    first = stack.layers[0]
    # ±1 data must be exact spins; {0,1} data may be probabilities (then some monitors skip).
    strict = first.units == "pm1"
    x = first.check_data(data, exact=strict, name="data")
    xh = None if heldout is None else first.check_data(heldout, exact=strict, name="heldout")
    binary = strict or bool(((x == 0) | (x == 1)).all())
    frames = []
    for i, rbm in enumerate(stack.layers):
        kw = {**trainer_kwargs, **layer_kwargs[i]}
        kw["seed"] = _layer_seed(seed, i)
        if "monitor" not in kw or kw["monitor"] is True or kw["monitor"] is None:
            mkw = dict(monitor_kwargs or {})
            mkw["lattice_shape"] = lattice_shape if i == 0 else None
            if i > 0:  # upper layers are not chains with the input's couplings
                mkw["chain_sigma"] = None
            kw["monitor"] = RBMMonitor(**mkw)
        elif kw["monitor"] is not False:
            raise ValueError("pass monitor settings to train_stack through monitor_kwargs")
        if checkpoint_dir is not None:
            kw["checkpoint_dir"] = Path(checkpoint_dir) / f"layer{i}"
        kw["binary_data"] = binary
        selecting = bool(select) and xh is not None
        if selecting:
            kw["snapshot_at"] = select.get("snapshot_at", "heavy")
        trainer = RBMTrainer(rbm, **kw)
        curve = trainer.fit(x, xh)
        curve.insert(0, "layer", i)
        if selecting:
            from coarsegrain.rbm.selection import select_rbm

            rule = {k: v for k, v in select.items() if k not in ("enabled", "snapshot_at")}
            chosen, choice = select_rbm(trainer, curve, **rule)
            rbm.load_state_dict(chosen.state_dict())
            trainer.snapshots = {}  # free the CPU copies before the next layer
            curve = curve.assign(selected_update=int(choice.update), rule=choice.rule)
        frames.append(curve)
        if i + 1 < len(stack):
            g = torch_generator(seed, "stack-propagate", i, device=rbm.device)
            with torch.no_grad():
                if propagate == "sample":
                    x = rbm.sample_h(x, g)
                    xh = None if xh is None else rbm.sample_h(xh, g)
                    binary = True
                else:
                    x, xh = rbm.mean_h(x), (None if xh is None else rbm.mean_h(xh))
                    binary = False
    return pd.concat(frames, ignore_index=True)
