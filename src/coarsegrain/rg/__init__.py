"""Block-spin renormalisation group: 2×2 block averaging, majority rule, chain blocks and
decimation, repeated steps (see :mod:`coarsegrain.rg.blockspin`)."""

from coarsegrain.rg.blockspin import (
    RULES,
    block_average,
    block_kernel,
    block_sum,
    decimate,
    majority_rule,
    rg_flow,
    rg_step,
)

__all__ = ["RULES", "block_average", "block_kernel", "block_sum", "decimate", "majority_rule",
           "rg_flow", "rg_step"]
