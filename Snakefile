# restorebench: regenerate the papers' tables and figures. Thin: config, validation, rules, targets.
# All science lives in the restorebench package (src/); rules call its CLI with explicit paths.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/methods.smk"


# The HTML report's landing page (snakemake --report, after the run): the prose of workflow/report/workflow.rst
# and every study's verdict table, as results_readme writes it; the prose alone before the run has written it.
REPORT_LANDING = "results/report_landing.rst"


report: str(Path(REPORT_LANDING).resolve()) if Path(REPORT_LANDING).is_file() else "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/common/audio_priors.smk"
include: "workflow/rules/common/sar_rfi.smk"
include: "workflow/rules/common/merlin_multitask.smk"
include: "workflow/rules/common/declipping.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/audio_priors.smk"
include: "workflow/rules/sar_rfi.smk"
include: "workflow/rules/merlin_multitask.smk"
include: "workflow/rules/declipping.smk"
include: "workflow/rules/report.smk"


# Rules marked `localrule: True` (tables, figures, claims pages, downloads) run on the submitting host when
# the rest goes to a cluster: they take seconds, or need the internet, which compute nodes often lack.


rule all:
    default_target: True
    input:
        "results/README.md",
