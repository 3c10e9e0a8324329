# coarse-grain: reproduce "A coarse graining perspective of deep learning" end to end.
#   snakemake --cores all                                  # quick preset (config.yaml)
#   snakemake --cores all --configfile presets/ci.yaml     # tiny preset used by the tests
#   snakemake --cores all --configfile presets/thesis.yaml # full size
# A config file given on the command line replaces config.yaml (it is not layered on the quick
# preset): a preset means the schema defaults plus what it says. To change the quick preset, pass
# both: --configfile config.yaml my_changes.yaml.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"

# Without this, snakemake would merge --configfile files over config.yaml, and every key the quick
# preset sets but a preset leaves out would leak into that preset.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from coarsegrain.config import check_config  # noqa: E402

# Readable errors first (every problem, by config key), then snakemake's validate fills defaults.
check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/ising2d.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/spectral.smk"
include: "workflow/rules/rbm.smk"
include: "workflow/rules/flows.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        ALL_TARGETS,
        REPORT_TARGETS,
    default_target: True
