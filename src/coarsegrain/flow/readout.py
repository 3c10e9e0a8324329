"""Reading a hidden layer of an RBM (or a stack of RBMs) as a lattice.

A hidden unit has neither a position nor a sign of its own: permuting hidden units, or flipping
one (``h_a → −h_a`` with ``W[:, a] → −W[:, a]``, ``b_a → −b_a`` for ±1 units; ``h_a → 1 − h_a``
with ``W[:, a] → −W[:, a]`` and shifted biases for {0, 1} units), leaves the model unchanged.
Reading the hidden vector row-major with raw signs is therefore an artefact of training. Two
estimators that are invariant under both symmetries are offered:

**Placement** (:func:`layer_readout`, :func:`stack_readouts`, :func:`read_lattice`)
    Each unit is oriented by a sign rule computed from its own weights, and placed on the coarse
    lattice by its receptive field:

    - sign (``sign_rule="sum"``, default): ``sign(Σ_i W[i, a])``, the sign of the field the unit
      receives from the all-up visible state, so a coarse spin points along the magnetisation of
      the region it looks at. When that sum vanishes (|Σ W| ≤ 1e-9 Σ |W|) the ``"max"`` rule is
      used. ``sign_rule="max"``: the sign of the unit's largest-magnitude weight (the gauge of
      :func:`coarsegrain.analysis.spectral.receptive_field_signs`).
    - position: the periodic centre of mass of ``W[:, a]²`` on the visible lattice (the same
      placement as :func:`coarsegrain.analysis.spectral.receptive_field_order`); coarse site
      ``j`` sits at the centre ``(j + ½) b − ½`` of its block, and the one-to-one assignment of
      units to sites minimising the summed squared periodic distance is found with the
      Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`), which resolves
      collisions (two units looking at one block) deterministically.

    In a stack, layer ``k``'s visible units are layer ``k−1``'s hidden units, so layer ``k``'s
    weight rows are first permuted and sign-corrected by layer ``k−1``'s readout: every layer is
    then placed on the lattice that the layer below was read as.

**Reconstruction** (:func:`reconstruct_visible`)
    The layer's state is mapped back down through the layers below, ``v ~ p(v | h)`` (or the
    conditional means) one layer at a time, to the visible lattice. This needs no placement or
    sign convention at all, and with sampling the result is a ±1 configuration of the input
    lattice, which the input-size thermometer can read in distribution.

Shapes: hidden batches ``(n, n_hidden)``; lattices ``(n, *lattice_shape)``; ±1 convention for
all returned lattices ({0, 1} units are mapped with ``2h − 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

SIGN_RULES = ("sum", "max")


def _as_weights(W) -> np.ndarray:
    """``W`` (tensor, array or RBM) as a float64 (n_visible, n_hidden) array."""
    W = getattr(W, "W", W)
    if isinstance(W, torch.Tensor):
        W = W.detach().cpu().numpy()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty (n_visible, n_hidden) array; got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains NaN or inf")
    return W


def _lattice_shape(shape, name: str) -> tuple[int, ...]:
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise ValueError(f"{name} must be 1 to 3 positive integers; got {shape!r}")
    return shape


def coarse_lattice_shape(n_units: int, fine_shape: Sequence[int]) -> tuple[int, ...]:
    """The coarse lattice ``n_units`` hidden units are read as: same dimension and aspect ratio
    as ``fine_shape`` (a chain for a chain, a square for a square lattice).

    Raises
    ------
    ValueError
        when no such lattice holds exactly ``n_units`` sites.
    """
    fine = _lattice_shape(fine_shape, "fine_shape")
    n_units = int(n_units)
    if len(fine) == 1:
        return (n_units,)
    # scale factor s with prod(round(L_d * s)) == n_units, the same s on every axis
    s = (n_units / float(np.prod(fine))) ** (1.0 / len(fine))
    shape = tuple(int(round(L * s)) for L in fine)
    if int(np.prod(shape)) != n_units or min(shape) < 1:
        raise ValueError(f"n_units={n_units} hidden units cannot be read as a lattice with the "
                         f"dimension and aspect ratio of {fine}; allowed: n_units = "
                         f"prod(L_d * s) for one scale s (e.g. {int(np.prod(fine)) // 4} for 2x2 "
                         "blocks)")
    return shape


def unit_signs(W, rule: str = "sum") -> np.ndarray:
    """Orientation (±1) of each hidden unit from its own weights (see the module docstring).

    Parameters
    ----------
    W : (n_visible, n_hidden) weights (array, tensor or an RBM)
    rule : "sum" (sign of Σ_i W[i, a], falling back to "max" when it vanishes) or "max" (sign of
        the largest-magnitude weight)

    Returns
    -------
    float64 array (n_hidden,) of ±1; flipping column ``a`` of ``W`` flips entry ``a``.
    """
    if rule not in SIGN_RULES:
        raise ValueError(f"sign_rule={rule!r} is not allowed; choose one of {SIGN_RULES}")
    W = _as_weights(W)
    cols = np.arange(W.shape[1])
    by_max = np.sign(W[np.argmax(np.abs(W), axis=0), cols])
    by_max[by_max == 0] = 1.0  # an all-zero unit: either orientation reads the same
    if rule == "max":
        return by_max
    total = W.sum(axis=0)
    tiny = np.abs(total) <= 1e-9 * np.abs(W).sum(axis=0)
    return np.where(tiny, by_max, np.sign(total))


def unit_centres(W, visible_shape: Sequence[int]) -> np.ndarray:
    """Receptive-field centre of each hidden unit: the periodic centre of mass of ``W[:, a]²``.

    Returns
    -------
    float64 array (n_hidden, len(visible_shape)), lattice coordinates in [0, L_d) along each
    axis (row-major site ``i`` of the visible lattice has coordinates ``np.unravel_index(i)``).
    """
    from coarsegrain.analysis.spectral import _periodic_centres

    W = _as_weights(W)
    vshape = _lattice_shape(visible_shape, "visible_shape")
    if int(np.prod(vshape)) != W.shape[0]:
        raise ValueError(f"visible_shape {vshape} has {int(np.prod(vshape))} sites but W has "
                         f"{W.shape[0]} rows")
    return _periodic_centres(W ** 2, vshape)


def unit_placement(W, visible_shape: Sequence[int], hidden_shape: Sequence[int] | None = None
                   ) -> np.ndarray:
    """Coarse-lattice site of every hidden unit, by receptive-field centre (optimal assignment).

    Parameters
    ----------
    W : (n_visible, n_hidden) weights, rows in row-major order of ``visible_shape``
    visible_shape : lattice of the visible units, e.g. (L, L) or (N,)
    hidden_shape : coarse lattice (default :func:`coarse_lattice_shape`)

    Returns
    -------
    order : int array (n_hidden,), ``order[site] = unit placed at that coarse site`` (row-major
        sites), so ``h[:, order]`` is the hidden layer laid out on the coarse lattice.
    """
    from coarsegrain.analysis.spectral import receptive_field_order

    W = _as_weights(W)
    vshape = _lattice_shape(visible_shape, "visible_shape")
    hshape = (coarse_lattice_shape(W.shape[1], vshape) if hidden_shape is None
              else _lattice_shape(hidden_shape, "hidden_shape"))
    if int(np.prod(vshape)) != W.shape[0]:
        raise ValueError(f"visible_shape {vshape} has {int(np.prod(vshape))} sites but W has "
                         f"{W.shape[0]} rows (visible units)")
    if len(hshape) != len(vshape) or int(np.prod(hshape)) != W.shape[1]:
        raise ValueError(f"hidden_shape {hshape} must have the dimension of visible_shape "
                         f"{vshape} and hold the {W.shape[1]} hidden units")
    return receptive_field_order(W, vshape, hshape)


@dataclass(frozen=True)
class LayerReadout:
    """How to read one hidden layer as a lattice.

    Attributes
    ----------
    order : int array (n_sites,), ``order[site]`` = hidden unit placed at that row-major site
    signs : float64 array (n_hidden,), ±1 orientation of each unit (indexed by unit)
    shape : the coarse lattice shape, ``prod(shape) == n_hidden``
    """

    order: np.ndarray
    signs: np.ndarray
    shape: tuple[int, ...]

    def apply(self, h, units: str = "pm1") -> np.ndarray:
        """Hidden states or means (n, n_hidden) → oriented spins on the lattice (n, *shape).

        ``units="01"`` maps states with ``2h − 1`` first; float input keeps its dtype (means in
        [−1, 1]), integer-valued states come back as int8 ±1.
        """
        if units not in ("pm1", "01"):
            raise ValueError(f"units={units!r} is not allowed; choose 'pm1' or '01'")
        if isinstance(h, torch.Tensor):
            h = h.detach().cpu().numpy()
        h = np.asarray(h)
        if h.ndim != 2 or h.shape[1] != self.order.size:
            raise ValueError(f"h has shape {h.shape}; expected (n, {self.order.size})")
        s = 2 * h.astype(np.float64) - 1 if units == "01" else h.astype(np.float64)
        out = (s * self.signs)[:, self.order].reshape((h.shape[0], *self.shape))
        return out.astype(np.float32 if np.issubdtype(h.dtype, np.floating) else np.int8)


def layer_readout(W, visible_shape: Sequence[int], hidden_shape: Sequence[int] | None = None,
                  sign_rule: str = "sum") -> LayerReadout:
    """Sign fix and placement of one layer's hidden units (weights indexed on ``visible_shape``).

    Parameters
    ----------
    W : (n_visible, n_hidden) weights (array, tensor or RBM), rows in row-major order of
        ``visible_shape``
    visible_shape : lattice of the visible units
    hidden_shape : coarse lattice (default :func:`coarse_lattice_shape`)
    sign_rule : see :func:`unit_signs`

    Returns
    -------
    :class:`LayerReadout`; invariant under permutations and sign flips of the hidden units (the
    lattice it reads from the transformed model is the same).
    """
    W = _as_weights(W)
    vshape = _lattice_shape(visible_shape, "visible_shape")
    hshape = (coarse_lattice_shape(W.shape[1], vshape) if hidden_shape is None
              else _lattice_shape(hidden_shape, "hidden_shape"))
    order = unit_placement(W, vshape, hshape)
    return LayerReadout(order=order, signs=unit_signs(W, sign_rule), shape=hshape)


def _layers(layers) -> list:
    if hasattr(layers, "layers"):
        return list(layers.layers)
    if hasattr(layers, "W"):
        return [layers]
    return list(layers)


def stack_readouts(layers, visible_shape: Sequence[int], sign_rule: str = "sum",
                   hidden_shapes: Sequence[Sequence[int]] | None = None) -> list[LayerReadout]:
    """A :class:`LayerReadout` for every layer of a stack, each on the lattice of the one below.

    Parameters
    ----------
    layers : a StackedRBM, a list of RBMs or of (n_visible, n_hidden) weight arrays, bottom first
    visible_shape : lattice of the stack's input
    sign_rule : see :func:`unit_signs`
    hidden_shapes : coarse lattice per layer (default :func:`coarse_lattice_shape` of the
        lattice below)

    Returns
    -------
    list of LayerReadout, one per layer. Layer ``k``'s weights are read with their rows
    reordered and sign-corrected by layer ``k−1``'s readout, so a flipped or permuted unit of
    any layer changes nothing downstream.
    """
    layers = _layers(layers)
    if hidden_shapes is not None and len(hidden_shapes) != len(layers):
        raise ValueError(f"hidden_shapes has {len(hidden_shapes)} entries for {len(layers)} layers")
    shape = _lattice_shape(visible_shape, "visible_shape")
    out: list[LayerReadout] = []
    prev: LayerReadout | None = None
    for k, layer in enumerate(layers):
        W = _as_weights(layer)
        if prev is not None:
            if W.shape[0] != prev.order.size:
                raise ValueError(f"layer {k} has {W.shape[0]} visible units but layer {k - 1} "
                                 f"has {prev.order.size} hidden units")
            W = (W * prev.signs[:, None])[prev.order]
        ro = layer_readout(W, shape, None if hidden_shapes is None else hidden_shapes[k],
                           sign_rule)
        out.append(ro)
        prev, shape = ro, ro.shape
    return out


def read_lattice(h, readout: LayerReadout, units: str = "pm1") -> np.ndarray:
    """Hidden states or means (n, n_hidden) read as oriented spins on the coarse lattice,
    ``(n, *readout.shape)`` (see :meth:`LayerReadout.apply`)."""
    return readout.apply(h, units)


@torch.no_grad()
def reconstruct_visible(layers, h, layer: int, *, sample: bool = True,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Map a hidden layer's states down to the visible lattice through the layers below.

    Parameters
    ----------
    layers : a StackedRBM or a list of RBMs, bottom first
    h : (n, n_hidden of layer ``layer``) states or means of that layer, in the units' own
        convention (±1 or {0, 1})
    layer : 1-based index of the layer ``h`` belongs to
    sample : draw ``x ~ p(x | h)`` at every layer on the way down (binary output, the flow's
        convention); otherwise propagate conditional means E[x | h]
    generator : torch generator on the RBMs' device, for the sampling

    Returns
    -------
    tensor (n, n_visible of layer 1) on the RBMs' device, in the units' own convention. Invariant
    under sign flips and permutations of hidden units (it never looks at their indices).
    """
    layers = _layers(layers)
    if not 1 <= int(layer) <= len(layers):
        raise ValueError(f"layer must be in 1..{len(layers)}; got {layer!r}")
    x = h
    for rbm in reversed(layers[:int(layer)]):
        x = rbm.sample_v(x, generator) if sample else rbm.mean_v(x)
    return x
