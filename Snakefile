# coarse-grain: reproduce "A coarse graining perspective of deep learning" end to end.
#   snakemake --cores all                                  # quick preset (config.yaml)
#   snakemake --cores all --configfile presets/ci.yaml     # tiny preset used by the tests
#   snakemake --cores all --configfile presets/thesis.yaml # full size
#   snakemake --cores all --configfile presets/thesis.yaml my_changes.yaml  # thesis + changes
# A preset is complete: the schema defaults plus its file (config.yaml is the quick preset). What
# the command line gives (--configfile files merged in order, then --config) is merged over the
# file of the preset it names (`preset:`, quick when unnamed), so a file holding only `seed: 1`
# means "quick with seed 1". Outputs go to results/<preset>/ when the resolved config is the
# preset's own, else to results/<preset>-<hash of the resolved config>/; either way the resolved
# config is written to that folder's config.yaml.
import os
import shutil
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"


# No `configfile:` directive: `config` holds only what the command line gave (--configfile files
# merged in order, --config), and layer_on_preset puts it over the preset it names, read from this
# workflow's folder whatever the working directory (no --configfile: config.yaml, the quick preset).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from coarsegrain.config import (  # noqa: E402
    check_config,
    layer_on_preset,
    preset_config,
    preset_files,
    run_name,
)

SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
PRESETS = preset_files(workflow.basedir)
_resolved = layer_on_preset(config, PRESETS)
config.clear()
config.update(_resolved)
# Readable errors first (every problem, by config key, cross-field rules included), then
# snakemake's validate fills defaults.
check_config(config, SCHEMA)
validate(config, "workflow/schemas/config.schema.yaml")
# results/<RUN_NAME>/ identifies the resolved config (common.smk builds every path from it).
RUN_NAME = run_name(config, preset_config(config["preset"], PRESETS, SCHEMA))

# Jobs run `python3 -m coarsegrain` with this checkout's src/ first on PYTHONPATH. Both come from
# the environment, not from the command text, so that moving the checkout or the venv does not
# change the commands (Snakemake's code rerun trigger compares their text). With --sdm conda the
# job's activated environment provides python3; otherwise the interpreter running Snakemake does.
# (Set here, not read from the caller: the envvars directive does not apply.)
os.environ.update(COARSEGRAIN_SRC=str(Path(workflow.basedir).resolve() / "src"))
if not workflow.deployment_settings.deployment_method:
    _bin = str(Path(sys.executable).parent)
    os.environ.update(PATH=os.pathsep.join([_bin, os.environ.get("PATH", "")]))
    _py3 = shutil.which("python3")
    if _py3 is None or Path(_py3).resolve() != Path(sys.executable).resolve():
        raise WorkflowError(
            f"jobs call python3, which resolves to {_py3!r} and not to the interpreter running "
            f"Snakemake ({sys.executable}); run Snakemake from a virtual or conda environment "
            "(whose bin/ has python3), or with --sdm conda"
        )


include: "workflow/rules/common.smk"
include: "workflow/rules/ising2d.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/spectral.smk"
include: "workflow/rules/rbm.smk"
include: "workflow/rules/flows.smk"
include: "workflow/rules/iso.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
        REPORT_TARGETS,
