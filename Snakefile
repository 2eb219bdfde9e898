# iotad: reproducible benchmark of autoencoder and latent-representation anomaly detectors
# for network and IoT intrusion data. Run `snakemake --cores 8`; see README.md.

import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from iotad.config import check_config_file

# Beside the Snakefile, so `-d <elsewhere>` still starts from the defaults; --configfile merges on top
# (Snakemake reads those before this file: `make run` checks them, see iotad.launch).
check_config_file(os.path.join(workflow.basedir, "config.yaml"))


configfile: os.path.join(workflow.basedir, "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")


# The report's landing page: the answer table first (`snakemake --report`, `make report`).
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/track.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        expand("results/reports/cleaning/{dataset}.json", dataset=DATASETS),
        [eda_outputs(dataset) for dataset in DATASETS],
        PREPARATION_TABLES,
        expand("results/model_input/{dataset}/train.json", dataset=DATASETS),
        TRACKED,
        report_outputs(),
