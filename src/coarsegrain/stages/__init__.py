"""Entry points that the rules call, one module per ``workflow/rules/*.smk`` file.

A stage is ``fn(ctx: coarsegrain.cli.StageContext) -> None`` in the ``STAGES`` dict of
``coarsegrain.stages.<rules file>``, called as ``python -m coarsegrain <rules file>.<name>``. Stages
read inputs, call the domain packages, and write tables and measurements; the science lives in the
domain packages, which know nothing of files.

``record`` is the one module here that no rule calls: ``make record`` runs it on a finished run
folder to write the reproduction record under ``docs/reproduction/``.
"""

MODULES = ("ising2d", "montecarlo", "rbm", "flows", "spectral", "report", "iso")
