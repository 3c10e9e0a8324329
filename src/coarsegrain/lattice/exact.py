"""Exact results for the 2D Ising model (J = 1, k_B = 1).

- :func:`onsager_magnetization`: spontaneous magnetisation of the infinite lattice.
- :func:`onsager_energy`: energy per site of the infinite lattice.
- :func:`log_partition_function`: exact ln Z of the L×M torus (Kaufman 1949; the form used by
  Ferdinand & Fisher 1969), evaluated in high precision.
- :func:`finite_size_thermo`: exact ⟨e⟩ and c per site on the torus, by differentiating ln Z.
- :func:`enumerate_thermo`: brute-force enumeration for tiny lattices (the test reference).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy.special import ellipkm1

from coarsegrain.lattice.ising2d import T_CRITICAL

__all__ = [
    "T_CRITICAL",
    "onsager_magnetization",
    "onsager_energy",
    "log_partition_function",
    "finite_size_thermo",
    "enumerate_thermo",
]


def onsager_magnetization(T):
    """Spontaneous magnetisation m(T) = (1 − sinh(2/T)^−4)^(1/8) for T < T_c, 0 above.

    Parameters
    ----------
    T : float or array of temperatures > 0

    Returns
    -------
    numpy array (or float) of the same shape
    """
    T = np.asarray(T, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        x = 1.0 - np.sinh(2.0 / T) ** -4
        m = np.where(T < T_CRITICAL, np.clip(x, 0, None) ** 0.125, 0.0)
    return m if m.ndim else float(m)


def onsager_energy(T):
    """Energy per site of the infinite lattice, u(T) = −coth(2K)[1 + (2/π)(2 tanh²2K − 1) K(κ)],
    κ = 2 sinh 2K / cosh² 2K, K = 1/T (K(κ) the complete elliptic integral of modulus κ)."""
    T = np.asarray(T, dtype=np.float64)
    K = 1.0 / T
    # 1 − κ² = (1 − sinh²2K)² / cosh⁴2K exactly. Forming κ² first rounds it to 1 within ~1e-8 of
    # T_c, where K(κ) then returns inf and u becomes ±inf/NaN; ellipkm1 takes 1 − κ² directly.
    s, c = np.sinh(2 * K), np.cosh(2 * K)
    one_minus_k2 = ((1.0 - s**2) / c**2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        u = -1.0 / np.tanh(2 * K) * (1 + 2 / np.pi * (2 * np.tanh(2 * K) ** 2 - 1)
                                     * ellipkm1(one_minus_k2))
    # At T_c the second term vanishes (2tanh²2K_c − 1 = 0) while K(κ→1) diverges: take the limit.
    u = np.where(np.isclose(T, T_CRITICAL, rtol=1e-12, atol=0), -math.sqrt(2.0), u)
    return u if u.ndim else float(u)


def _log_z(K, L: int, M: int):
    """ln Z of the L (columns) × M (rows) torus at coupling K, with mpmath numbers.

    Z = ½ (2 sinh 2K)^(LM/2) [Z1 + Z2 + Z3 + Z4] with
    Z1 = Π_r 2cosh(L γ_{2r+1}/2), Z2 = Π_r 2sinh(L γ_{2r+1}/2),
    Z3 = Π_r 2cosh(L γ_{2r}/2),   Z4 = Π_r 2sinh(L γ_{2r}/2),  r = 0..M−1,
    cosh γ_l = cosh 2K coth 2K − cos(π l / M) for l ≥ 1 and γ_0 = 2K + ln tanh K (which may be
    negative: Z4's sign matters below T_c).
    """
    c = mp.cosh(2 * K) / mp.tanh(2 * K)

    def gamma(l):
        if l == 0:
            return 2 * K + mp.log(mp.tanh(K))
        return mp.acosh(c - mp.cos(mp.pi * l / M))

    z1 = z2 = z3 = z4 = mp.mpf(1)
    for r in range(M):
        g_odd, g_even = gamma(2 * r + 1), gamma(2 * r)
        z1 *= 2 * mp.cosh(L * g_odd / 2)
        z2 *= 2 * mp.sinh(L * g_odd / 2)
        z3 *= 2 * mp.cosh(L * g_even / 2)
        z4 *= 2 * mp.sinh(L * g_even / 2)
    return mp.log(mp.mpf(1) / 2) + (L * M / mp.mpf(2)) * mp.log(2 * mp.sinh(2 * K)) + mp.log(z1 + z2 + z3 + z4)


def log_partition_function(T, L: int, M: int | None = None, dps: int = 40) -> float:
    """Exact ln Z of the 2D Ising model on an L×M torus (M defaults to L) at temperature T."""
    if T <= 0:
        raise ValueError(f"T must be > 0; got {T}")
    M = L if M is None else M
    if L < 2 or M < 2:
        raise ValueError(f"L and M must be >= 2; got L={L}, M={M}")
    with mp.workdps(dps):
        return float(_log_z(mp.mpf(1) / mp.mpf(T), L, M))


def finite_size_thermo(temperatures, L: int, dps: int = 50) -> dict[str, np.ndarray]:
    """Exact energy and specific heat per site on the L×L torus.

    ⟨e⟩ = −(1/N) ∂ ln Z/∂K and c = (K²/N) ∂² ln Z/∂K², derivatives taken by mpmath in high
    precision (the four-term sum cancels strongly near and below T_c).

    Returns
    -------
    dict with arrays ``temperature``, ``energy`` (per site), ``specific_heat`` (per site),
    ``log_z``
    """
    temps = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    if np.any(temps <= 0):
        raise ValueError("temperatures must be > 0")
    N = L * L
    e, c, lz = [], [], []
    with mp.workdps(dps):
        for T in temps:
            K = mp.mpf(1) / mp.mpf(float(T))
            f = lambda k: _log_z(k, L, L)  # noqa: E731
            d1 = mp.diff(f, K, 1)
            d2 = mp.diff(f, K, 2)
            e.append(float(-d1 / N))
            c.append(float(K**2 * d2 / N))
            lz.append(float(f(K)))
    return {"temperature": temps, "energy": np.array(e), "specific_heat": np.array(c),
            "log_z": np.array(lz)}


def enumerate_thermo(temperatures, L: int) -> dict[str, np.ndarray]:
    """Brute-force ⟨e⟩, c and ln Z per site on the L×L torus by summing over all 2^(L²) states.

    Only for L ≤ 4 (65,536 states); the reference the Kaufman formula is tested against.
    """
    if L > 4:
        raise ValueError(f"enumeration is limited to L <= 4; got {L}")
    N = L * L
    idx = np.arange(2**N, dtype=np.int64)
    spins = (((idx[:, None] >> np.arange(N)) & 1) * 2 - 1).reshape(-1, L, L).astype(np.int64)
    E = -(spins * (np.roll(spins, 1, -1) + np.roll(spins, 1, -2))).sum(axis=(-2, -1)).astype(np.float64)
    temps = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    out = {"temperature": temps, "energy": [], "specific_heat": [], "log_z": []}
    for T in temps:
        w = -E / T
        w0 = w.max()
        p = np.exp(w - w0)
        Z = p.sum()
        p /= Z
        mean_E = (p * E).sum()
        var_E = (p * (E - mean_E) ** 2).sum()
        out["energy"].append(mean_E / N)
        out["specific_heat"].append(var_E / (T**2 * N))
        out["log_z"].append(np.log(Z) + w0)
    return {k: np.asarray(v) for k, v in out.items()}
