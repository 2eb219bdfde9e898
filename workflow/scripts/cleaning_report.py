"""Merge the per-part cleaning reports of one dataset into one JSON."""

import json

from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "cleaning_report"):
    parts = [json.loads(open(path).read()) for path in snakemake.input]
    write_json({"dataset": snakemake.wildcards.dataset, "parts": {p["part"]: p for p in parts}}, snakemake.output[0])
