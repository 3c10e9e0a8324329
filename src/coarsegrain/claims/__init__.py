"""Claims: the registry of every check and thesis claim, measurements, and verdicts.

- :mod:`~coarsegrain.claims.registry` declares each claim once (id, kind, source, statement,
  figure, how it is measured, the comparison, where tolerances come from).
- :mod:`~coarsegrain.claims.measure` is what stages emit: numbers, never verdicts.
- :mod:`~coarsegrain.claims.compare` holds the comparisons (equality, bound, range, sign,
  differs), each able to hold, fail or be inconclusive.
- :mod:`~coarsegrain.claims.evaluate` aggregates measurements over training seeds and applies the
  registry: the claims table, in Parquet, Markdown and CSV.
"""

from coarsegrain.claims.compare import Bound, Differs, Equal, Range, Sign
from coarsegrain.claims.evaluate import evaluate, to_markdown
from coarsegrain.claims.measure import measurement, measurements_frame
from coarsegrain.claims.registry import REGISTRY, ClaimSpec, find_spec

__all__ = ["REGISTRY", "Bound", "ClaimSpec", "Differs", "Equal", "Range", "Sign", "evaluate",
           "find_spec", "measurement", "measurements_frame", "to_markdown"]
