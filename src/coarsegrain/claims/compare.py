"""Comparisons that turn a measurement into an outcome: ``holds``, ``fails`` or ``inconclusive``.

Every comparison can fail, and every one has an inconclusive band: a measurement whose error
does not let it decide is never counted as a success. The measured interval is
``value ± n_sigma·error`` (``n_sigma = 3`` unless a claim says otherwise); where a reference is
itself measured, its error is added in quadrature. A stated tolerance (``tol``, the systematic
allowance of the claim, e.g. a finite-size shift or a thermometer's resolution) widens what counts
as agreement and is recorded with the reason it has that size.

Kinds
-----
- :class:`Equal` — value = reference within ``tol``: holds when ``|Δ| ≤ tol + n·σ``; fails
  otherwise; inconclusive when the value or its error is not finite, or when ``σ`` exceeds
  ``max_error`` (by default the tolerance itself, when there is one): a measurement less precise
  than its allowance could not have failed.
- :class:`Bound` — value below (``upper``) or above a bound: holds when the whole interval is on
  the claimed side, fails when the whole interval is on the other side, inconclusive otherwise.
- :class:`Range` — ``lo ≤ value ≤ hi`` (either end may be infinite): holds when the interval lies
  inside, fails when it lies entirely outside, inconclusive otherwise. A censored value (a lower
  limit, e.g. a speedup whose slow run never reached its target) can only establish the lower end.
- :class:`Sign` — the effect has the stated sign and is at least ``min_effect`` in size: holds
  when ``value − n·σ > min_effect`` (for +1), fails when the interval lies on the other side of 0,
  inconclusive in between (an effect within its error of zero).
- :class:`Differs` — value differs from reference by more than ``resolution``: holds when
  ``|Δ| − n·σ > resolution``; fails when ``|Δ| + n·σ < resolution`` (shown to agree within the
  resolution); inconclusive otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
OUTCOMES = (HOLDS, FAILS, INCONCLUSIVE)


@dataclass(frozen=True)
class Outcome:
    """Result of one comparison: ``outcome`` in :data:`OUTCOMES`, the tolerance used, and why."""

    outcome: str
    tolerance: float
    reason: str


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def _sigma(error, reference_error=None) -> float:
    e = float(error) if error is not None and math.isfinite(float(error)) else math.nan
    r = float(reference_error) if reference_error is not None and math.isfinite(float(reference_error)) else 0.0
    return math.hypot(e, r) if math.isfinite(e) else math.nan


def _fmt(x: float) -> str:
    return "∞" if x == math.inf else "−∞" if x == -math.inf else f"{x:.4g}"


@dataclass(frozen=True)
class Comparison:
    """Base class. ``evaluate`` returns an :class:`Outcome`; ``describe`` the comparison in words."""

    n_sigma: float = field(default=3.0, kw_only=True)

    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored: bool = False) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, reference=None) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def reference_value(self, reference=None) -> float:
        return float(reference) if reference is not None else math.nan


class _FixedOrMeasuredReference:
    """A comparison against ``self.reference``, or the measurement's reference when it is None."""

    reference: float | None

    def reference_value(self, reference=None) -> float:
        ref = self.reference if self.reference is not None else reference
        return float(ref) if ref is not None else math.nan


@dataclass(frozen=True)
class Equal(_FixedOrMeasuredReference, Comparison):
    """``value = reference`` within ``tol`` (+ n_sigma errors).

    reference : fixed reference value, or None to take it from the measurement (e.g. a Monte
        Carlo value measured in the same run).
    tol : absolute tolerance; ``rel_tol`` adds ``rel_tol·|reference|``; a measurement may bring
        its own tolerance (e.g. a thermometer's resolution), which replaces ``tol`` when larger.
    max_error : beyond this error the measurement cannot test the equality (inconclusive).
    max_tol : beyond this allowance (e.g. a thermometer that cannot resolve the reference from
        values that should fail) agreement means little: inconclusive; a value outside even
        that allowance still fails.
    """

    reference: float | None = None
    tol: float = 0.0
    rel_tol: float = 0.0
    max_error: float | None = None
    max_tol: float | None = None

    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored=False) -> Outcome:
        ref = self.reference_value(reference)
        # an infinite measured tolerance (a thermometer that cannot resolve T_c) is kept
        measured = float(tolerance) if tolerance is not None else math.nan
        tol = max(self.tol + self.rel_tol * abs(ref) if math.isfinite(ref) else self.tol,
                  measured if not math.isnan(measured) else 0.0)
        s = _sigma(error, reference_error)
        if not _finite(value, ref):
            return Outcome(INCONCLUSIVE, tol, "value or reference not finite")
        if censored:
            return Outcome(INCONCLUSIVE, tol, "censored value cannot test an equality")
        if not math.isfinite(s):
            return Outcome(INCONCLUSIVE, tol, "no finite error")
        blunt = self.max_tol is not None and not tol <= self.max_tol
        # A measurement less precise than the allowance it is judged with cannot test the
        # equality: it would "agree" with almost anything.
        limit = self.max_error if self.max_error is not None else (tol if tol > 0 else None)
        if limit is not None and s > limit and not blunt:
            return Outcome(INCONCLUSIVE, tol, f"error {s:.3g} > {limit:.3g}, too imprecise to "
                                              "test the equality")
        d = abs(float(value) - ref)
        allowed = tol + self.n_sigma * s
        if d > allowed:
            return Outcome(FAILS, tol, f"|Δ| = {d:.3g} > {allowed:.3g}"
                                       + (" even with the wide allowance" if blunt else ""))
        if blunt:
            # agreement within an allowance this wide (a thermometer that cannot resolve the
            # reference) says little; a clear miss beyond it (above) still fails
            return Outcome(INCONCLUSIVE, tol, f"|Δ| = {d:.3g} ≤ {allowed:.3g}, but the allowance "
                                              f"{tol:.3g} > {self.max_tol:.3g} is too wide for "
                                              "agreement to mean much")
        return Outcome(HOLDS, tol, f"|Δ| = {d:.3g} ≤ {allowed:.3g}")

    def describe(self, reference=None) -> str:
        ref = self.reference_value(reference)
        tol = self.tol + (self.rel_tol * abs(ref) if math.isfinite(ref) else 0.0)
        return f"= {_fmt(ref)}" + (f" ± {tol:.3g}" if tol else "")


@dataclass(frozen=True)
class Bound(Comparison):
    """``value < bound`` (``upper=True``) or ``value > bound``; bound None → the measurement's
    reference."""

    bound: float | None = None
    upper: bool = True

    def reference_value(self, reference=None) -> float:
        b = self.bound if self.bound is not None else reference
        return float(b) if b is not None else math.nan

    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored=False) -> Outcome:
        b = self.reference_value(reference)
        s = _sigma(error, reference_error)
        if not _finite(value, b):
            return Outcome(INCONCLUSIVE, 0.0, "value or bound not finite")
        if not math.isfinite(s):
            s = 0.0 if censored else math.nan
            if not math.isfinite(s):
                return Outcome(INCONCLUSIVE, 0.0, "no error")
        v, e = float(value), self.n_sigma * s
        lo, hi = v - e, (math.inf if censored else v + e)
        if self.upper:
            if hi < b:
                return Outcome(HOLDS, e, f"{_fmt(hi)} < {_fmt(b)}")
            if lo > b:
                return Outcome(FAILS, e, f"{_fmt(lo)} > {_fmt(b)}")
        else:
            if lo > b:
                return Outcome(HOLDS, e, f"{_fmt(lo)} > {_fmt(b)}")
            if hi < b:
                return Outcome(FAILS, e, f"{_fmt(hi)} < {_fmt(b)}")
        return Outcome(INCONCLUSIVE, e, f"interval [{_fmt(lo)}, {_fmt(hi)}] contains {_fmt(b)}")

    def describe(self, reference=None) -> str:
        return ("< " if self.upper else "> ") + _fmt(self.reference_value(reference))


@dataclass(frozen=True)
class Range(Comparison):
    """``lo ≤ value ≤ hi``. A censored value is a lower limit (the true value is ≥ it)."""

    lo: float = -math.inf
    hi: float = math.inf

    def reference_value(self, reference=None) -> float:
        return self.lo if math.isfinite(self.lo) else self.hi

    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored=False) -> Outcome:
        if not _finite(value):
            return Outcome(INCONCLUSIVE, 0.0, "value not finite")
        s = _sigma(error, reference_error)
        if not math.isfinite(s):
            s = 0.0 if censored else math.nan
            if not math.isfinite(s):
                return Outcome(INCONCLUSIVE, 0.0, "no error")
        v, e = float(value), self.n_sigma * s
        lo, hi = v - e, (math.inf if censored else v + e)
        if lo >= self.lo and hi <= self.hi:
            return Outcome(HOLDS, e, f"[{_fmt(lo)}, {_fmt(hi)}] inside [{_fmt(self.lo)}, {_fmt(self.hi)}]")
        if hi < self.lo or lo > self.hi:
            return Outcome(FAILS, e, f"[{_fmt(lo)}, {_fmt(hi)}] outside [{_fmt(self.lo)}, {_fmt(self.hi)}]")
        why = "censored: only a lower limit" if censored else "interval overlaps an end"
        return Outcome(INCONCLUSIVE, e, f"[{_fmt(lo)}, {_fmt(hi)}] vs [{_fmt(self.lo)}, "
                                        f"{_fmt(self.hi)}]: {why}")

    def describe(self, reference=None) -> str:
        if math.isfinite(self.lo) and math.isfinite(self.hi):
            return f"in [{_fmt(self.lo)}, {_fmt(self.hi)}]"
        return f"≥ {_fmt(self.lo)}" if math.isfinite(self.lo) else f"≤ {_fmt(self.hi)}"


@dataclass(frozen=True)
class Sign(Comparison):
    """The effect ``value`` has sign ``sign`` (+1 or −1) and size above ``min_effect``."""

    sign: int = 1
    min_effect: float = 0.0

    def reference_value(self, reference=None) -> float:
        return 0.0

    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored=False) -> Outcome:
        s = _sigma(error, reference_error)
        if not _finite(value) or not math.isfinite(s):
            return Outcome(INCONCLUSIVE, 0.0, "value or error not finite")
        v, e = self.sign * float(value), self.n_sigma * s
        if v - e > self.min_effect:
            return Outcome(HOLDS, e, f"effect {v:.3g} exceeds {self.n_sigma:g}σ = {e:.3g}")
        if v + e < 0:
            return Outcome(FAILS, e, f"opposite sign by more than {self.n_sigma:g}σ = {e:.3g}")
        return Outcome(INCONCLUSIVE, e, f"effect {v:.3g} within {self.n_sigma:g}σ = {e:.3g} of 0")

    def describe(self, reference=None) -> str:
        return ("> 0" if self.sign > 0 else "< 0") + (f" by > {self.min_effect:g}" if self.min_effect else "")


@dataclass(frozen=True)
class Differs(_FixedOrMeasuredReference, Comparison):
    """``|value − reference| > resolution``: the statement that two things differ."""

    reference: float | None = None
    resolution: float = 0.0


    def evaluate(self, value, error, *, reference=None, reference_error=None, tolerance=None,
                 censored=False) -> Outcome:
        ref = self.reference_value(reference)
        res = max(self.resolution, float(tolerance) if _finite(tolerance) else 0.0)
        s = _sigma(error, reference_error)
        if not _finite(value, ref) or not math.isfinite(s):
            return Outcome(INCONCLUSIVE, res, "value, reference or error not finite")
        d, e = abs(float(value) - ref), self.n_sigma * s
        if d - e > res:
            return Outcome(HOLDS, res, f"|Δ| = {d:.3g} > {res:.3g} + {e:.3g}")
        if d + e < res:
            return Outcome(FAILS, res, f"|Δ| = {d:.3g} < {res:.3g} − {e:.3g}: the same within "
                                       "the resolution")
        return Outcome(INCONCLUSIVE, res, f"|Δ| = {d:.3g} ± {e:.3g} vs resolution {res:.3g}")

    def describe(self, reference=None) -> str:
        return f"≠ {_fmt(self.reference_value(reference))} (by > {self.resolution:.3g})"
