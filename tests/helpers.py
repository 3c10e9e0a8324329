"""Helpers shared by several test modules (importable because pytest puts tests/ on sys.path)."""

import torch

from coarsegrain.rbm import RBM


def random_rbm(nv, nh, units="pm1", std=0.5, seed=0):
    """An RBM with N(0, std²) weights and N(0, 0.3²) biases, reproducible from ``seed``."""
    rbm = RBM(nv, nh, units=units, init_std=std, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    rbm.a.copy_(torch.randn(nv, generator=g) * 0.3)
    rbm.b.copy_(torch.randn(nh, generator=g) * 0.3)
    return rbm
