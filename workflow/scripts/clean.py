"""Clean one parsed part, attach family labels, and write the part's cleaning report."""

import pandas as pd

from iotad.clean import clean_part
from iotad.config import cleaning_options
from iotad.io import read_parquet_meta, write_json, write_parquet
from iotad.smk import job, registry

with job(snakemake, "clean") as log:
    dataset, part = snakemake.wildcards.dataset, snakemake.wildcards.part
    spec = registry(snakemake).dataset(dataset)
    options = cleaning_options(snakemake.params.preprocessing, dataset)
    parsed = pd.read_parquet(snakemake.input[0])
    cleaned, report = clean_part(parsed, spec, options, where=snakemake.input[0])
    report = {"dataset": dataset, "part": part, **read_parquet_meta(snakemake.input[0]), **report}
    write_parquet(cleaned, snakemake.output.data)
    write_json(report, snakemake.output.report)
    log.info(
        "%s/%s: %d -> %d rows (%d with NaN/inf, %d duplicates%s)",
        dataset,
        part,
        report["rows_in"],
        report["rows_out"],
        report["rows_with_nan_or_inf"],
        report["duplicate_rows"],
        ", removed" if report["duplicates_removed"] else "",
    )
