"""Exact quantities of small RBMs by enumerating the smaller layer.

Summing out one layer analytically leaves 2^n terms for the other layer, so the partition
function, the exact log-likelihood and exact model expectations are affordable whenever
``min(n_visible, n_hidden) <= 20`` (about 10^6 states, processed in chunks). Everything here
runs in float64 by default.
"""

from __future__ import annotations

import torch

from coarsegrain.rbm.model import RBM, log_unit_partition, unit_mean

MAX_EXACT = 20
_CHUNK = 1 << 15


def all_states(n: int, units: str, device=None, dtype=torch.float64, start: int = 0,
               stop: int | None = None) -> torch.Tensor:
    """States ``start..stop-1`` of the 2^n configurations of n units, shape (stop-start, n).

    Row ``i`` is the binary expansion of ``i`` (most significant unit first), mapped to ±1 or
    {0,1} according to ``units``.
    """
    stop = (1 << n) if stop is None else stop
    idx = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = (idx[:, None] >> torch.arange(n - 1, -1, -1, device=device)) & 1
    s = bits.to(dtype)
    return s * 2 - 1 if units == "pm1" else s


def _check_small(rbm: RBM, max_units: int) -> str:
    n = min(rbm.n_visible, rbm.n_hidden)
    if n > max_units:
        raise ValueError(f"exact enumeration needs min(n_visible, n_hidden) <= {max_units}; "
                         f"this RBM has n_visible={rbm.n_visible}, n_hidden={rbm.n_hidden} "
                         f"(use coarsegrain.rbm.ais_log_partition instead)")
    return "hidden" if rbm.n_hidden <= rbm.n_visible else "visible"


def _params(rbm: RBM, dtype):
    # .to() keeps the autograd graph when the parameters require grad (used in tests).
    return rbm.W.to(dtype), rbm.a.to(dtype), rbm.b.to(dtype)


def _layer_log_weights(rbm: RBM, layer: str, states: torch.Tensor, dtype) -> torch.Tensor:
    """−F(states) for states of ``layer`` (the other layer summed out)."""
    W, a, b = _params(rbm, dtype)
    if layer == "hidden":
        f = states @ W.t() + a
        return states @ b + log_unit_partition(f, rbm.units).sum(dim=1)
    f = states @ W + b
    return states @ a + log_unit_partition(f, rbm.units).sum(dim=1)


def exact_log_partition(rbm: RBM, dtype=torch.float64, max_units: int = MAX_EXACT
                        ) -> torch.Tensor:
    """log Z by enumerating the smaller layer; a 0-d tensor (differentiable w.r.t. the
    parameters if they require grad)."""
    layer = _check_small(rbm, max_units)
    n = rbm.n_hidden if layer == "hidden" else rbm.n_visible
    parts = []
    for start in range(0, 1 << n, _CHUNK):
        s = all_states(n, rbm.units, rbm.device, dtype, start, min(start + _CHUNK, 1 << n))
        parts.append(torch.logsumexp(_layer_log_weights(rbm, layer, s, dtype), dim=0))
    return torch.logsumexp(torch.stack(parts), dim=0)


def exact_log_likelihood(rbm: RBM, data, dtype=torch.float64, log_z=None,
                         max_units: int = MAX_EXACT) -> torch.Tensor:
    """Per-sample log p(v) = −F(v) − log Z, shape (n,), by exact enumeration.

    ``data`` is validated (exact unit values) and may have a lattice shape.
    """
    v = rbm.check_data(data).to(dtype)
    if log_z is None:
        log_z = exact_log_partition(rbm, dtype, max_units)
    W, a, b = _params(rbm, dtype)
    f = v @ W + b
    return v @ a + log_unit_partition(f, rbm.units).sum(dim=1) - log_z


def exact_model_statistics(rbm: RBM, dtype=torch.float64, max_units: int = MAX_EXACT
                           ) -> dict[str, torch.Tensor]:
    """Exact model expectations ⟨v⟩, ⟨h⟩, ⟨v hᵀ⟩ (the negative phase of the gradient).

    Returns a dict with ``v`` (n_visible,), ``h`` (n_hidden,), ``vh`` (n_visible, n_hidden)
    and ``log_z``.
    """
    layer = _check_small(rbm, max_units)
    n = rbm.n_hidden if layer == "hidden" else rbm.n_visible
    log_z = exact_log_partition(rbm, dtype, max_units)
    W, a, b = _params(rbm, dtype)
    ev = torch.zeros(rbm.n_visible, dtype=dtype, device=rbm.device)
    eh = torch.zeros(rbm.n_hidden, dtype=dtype, device=rbm.device)
    evh = torch.zeros(rbm.n_visible, rbm.n_hidden, dtype=dtype, device=rbm.device)
    for start in range(0, 1 << n, _CHUNK):
        s = all_states(n, rbm.units, rbm.device, dtype, start, min(start + _CHUNK, 1 << n))
        p = torch.exp(_layer_log_weights(rbm, layer, s, dtype) - log_z)
        if layer == "hidden":
            mv = unit_mean(s @ W.t() + a, rbm.units)  # E[v|h]
            ev += p @ mv
            eh += p @ s
            evh += (mv * p[:, None]).t() @ s
        else:
            mh = unit_mean(s @ W + b, rbm.units)  # E[h|v]
            ev += p @ s
            eh += p @ mh
            evh += (s * p[:, None]).t() @ mh
    return {"v": ev, "h": eh, "vh": evh, "log_z": log_z}


def exact_gradient(rbm: RBM, data, dtype=torch.float64, max_units: int = MAX_EXACT
                   ) -> dict[str, torch.Tensor]:
    """Exact gradient of the mean log-likelihood of ``data`` w.r.t. W, a, b.

    ∂⟨log p⟩/∂W = ⟨v E[h|v]ᵀ⟩_data − ⟨v hᵀ⟩_model (likewise for the biases).
    """
    v = rbm.check_data(data).to(dtype)
    W, a, b = _params(rbm, dtype)
    mh = unit_mean(v @ W + b, rbm.units)
    model = exact_model_statistics(rbm, dtype, max_units)
    n = v.shape[0]
    return {"W": v.t() @ mh / n - model["vh"], "a": v.mean(0) - model["v"],
            "b": mh.mean(0) - model["h"]}
