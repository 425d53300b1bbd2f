from snakemake.utils import min_version

min_version("9.0")

# Snakemake's own message for a YAML syntax error names neither file nor line.
from lens2logit.workflow.config import read_config_file

read_config_file(f"{workflow.basedir}/config.yaml")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/views.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/corruptions.smk"
include: "rules/qa.smk"
include: "rules/aggregate.smk"
include: "rules/references.smk"
include: "rules/forensics.smk"
include: "rules/customization.smk"
include: "rules/robust.smk"
include: "rules/report.smk"
include: "rules/tracking.smk"
include: "rules/targets.smk"


rule all:
    default_target: True
    input:
        PLAN.final_outputs(),
        PLAN.robust_outputs(),
        PLAN.timing_outputs(),
