"""Annealed importance sampling (AIS) of an RBM's partition function.

Salakhutdinov & Murray (2008): anneal from a base RBM with W = 0, b = 0 and visible biases
``a_A`` (whose log Z is known in closed form) to the target through

    log p*_β(v) = (1−β) a_Aᵀv + β aᵀv + Σ_j log Σ_{h_j} exp(β h_j f_j(v)),  f(v) = vᵀW + b,

with one block-Gibbs transition (h ~ p_β(h|v), v ~ p_β(v|h)) per inverse temperature β. The
importance weights give an unbiased estimate of Z; log Z is biased low by about half the
variance of the log weights, and the reported spread reflects that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from coarsegrain.rbm.model import RBM, log_unit_partition, sample_from_prob, unit_prob


@dataclass
class AISResult:
    """Result of :func:`ais_log_partition`.

    Attributes
    ----------
    log_z : the estimate log Ẑ (nats)
    error : one standard error of log Ẑ (delta method on the mean importance weight)
    log_z_lo, log_z_hi : log(Ẑ ∓ 3σ_Z), the conventional ±3σ band in log space (log_z_lo is
        −inf when the band reaches zero)
    log_z_base : log Z of the base-rate model
    log_weights : (n_chains,) float64 tensor of log importance weights
    n_chains, n_betas : run size
    """

    log_z: float
    error: float
    log_z_lo: float
    log_z_hi: float
    log_z_base: float
    n_chains: int
    n_betas: int
    log_weights: torch.Tensor = field(repr=False)


def default_betas(n_betas: int, dtype=torch.float64) -> torch.Tensor:
    """The Salakhutdinov–Murray schedule scaled to ``n_betas`` points: about 3.5% of them on
    [0, 0.5], 27.5% on [0.5, 0.9] and 69% on [0.9, 1], ending exactly at 1."""
    if n_betas < 3:
        raise ValueError(f"n_betas must be >= 3; got {n_betas}")
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = max(1, n_betas - n1 - n2)
    return torch.cat([
        torch.linspace(0.0, 0.5, n1 + 1, dtype=dtype)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=dtype)[:-1],
        torch.linspace(0.9, 1.0, n3 + 1, dtype=dtype),
    ])


def base_visible_bias(data, units: str, eps: float = 1e-3) -> torch.Tensor:
    """Visible biases of the independent-unit model with the data's mean activations
    (a good AIS base distribution). ``data``: (n, n_visible) tensor."""
    m = data.to(torch.float64).mean(dim=0)
    if units == "pm1":
        return torch.atanh(m.clamp(-1 + 2 * eps, 1 - 2 * eps))
    return torch.logit(m.clamp(eps, 1 - eps))


def ais_log_partition(rbm: RBM, n_chains: int = 100, n_betas: int = 10000, *,
                      betas: torch.Tensor | None = None, data=None,
                      base_bias: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, seed: int | None = None,
                      dtype=torch.float64) -> AISResult:
    """Estimate log Z of ``rbm`` by annealed importance sampling.

    Parameters
    ----------
    rbm : the model
    n_chains : independent AIS runs (the spread of their weights gives the error)
    n_betas : number of inverse temperatures (ignored if ``betas`` is given)
    betas : increasing schedule from 0 to 1 (default :func:`default_betas`)
    data : optional training data; the base model then matches its mean activations, which
        makes AIS much more accurate than the uniform base
    base_bias : explicit base visible biases (n_visible,) (overrides ``data``)
    generator, seed : randomness on ``rbm.device`` (``seed`` builds a generator)
    dtype : computation dtype (float64 keeps the summed log weights accurate)

    Returns
    -------
    AISResult
    """
    if n_chains < 2:
        raise ValueError(f"n_chains must be >= 2 to estimate the spread; got {n_chains}")
    dev, units = rbm.device, rbm.units
    if generator is None and seed is not None:
        from coarsegrain.runtime import torch_generator

        generator = torch_generator(seed, "ais", device=dev)
    if betas is None:
        betas = default_betas(n_betas, dtype)
    betas = torch.as_tensor(betas, dtype=dtype).cpu()
    if betas.ndim != 1 or betas[0] != 0 or betas[-1] != 1 or bool((betas.diff() < 0).any()):
        raise ValueError("betas must increase from 0 to 1")
    W, a, b = (t.detach().to(dtype) for t in (rbm.W, rbm.a, rbm.b))
    if base_bias is not None:
        a0 = torch.as_tensor(base_bias, dtype=dtype, device=dev)
    elif data is not None:
        a0 = base_visible_bias(rbm.check_data(data, exact=False), units).to(dev, dtype)
    else:
        a0 = torch.zeros(rbm.n_visible, dtype=dtype, device=dev)
    if a0.shape != (rbm.n_visible,):
        raise ValueError(f"base_bias has shape {tuple(a0.shape)}; expected ({rbm.n_visible},)")
    log_z_base = float(log_unit_partition(a0, units).sum()) + rbm.n_hidden * math.log(2.0)

    # v ~ base model, independent units with field a0
    v = sample_from_prob(unit_prob(a0.expand(n_chains, -1), units), units, generator)
    lw = torch.zeros(n_chains, dtype=dtype, device=dev)
    da = a - a0
    bl = betas.tolist()
    for k in range(1, len(bl)):
        b_prev, b_now = bl[k - 1], bl[k]
        f = torch.addmm(b, v, W)
        lw += (b_now - b_prev) * (v @ da)
        lw += (log_unit_partition(b_now * f, units) - log_unit_partition(b_prev * f, units)).sum(1)
        if k == len(bl) - 1:
            break
        h = sample_from_prob(unit_prob(b_now * f, units), units, generator)
        fv = torch.addmm(a0 + b_now * da, h, W.t(), alpha=b_now)
        v = sample_from_prob(unit_prob(fv, units), units, generator)

    lw_cpu = lw.cpu()
    m = float(lw_cpu.max())
    w = torch.exp(lw_cpu - m)
    mean_w = float(w.mean())
    rel = float(w.std()) / mean_w / math.sqrt(n_chains)  # σ(Ẑ)/Ẑ
    log_z = log_z_base + m + math.log(mean_w)
    lo = log_z + math.log(1 - 3 * rel) if rel < 1 / 3 else -math.inf
    return AISResult(log_z=log_z, error=rel, log_z_lo=lo, log_z_hi=log_z + math.log(1 + 3 * rel),
                     log_z_base=log_z_base, n_chains=int(n_chains), n_betas=len(bl),
                     log_weights=lw_cpu)
