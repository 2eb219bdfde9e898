"""Parse the raw files of one dataset part into typed parquet."""

from iotad.io import write_parquet
from iotad.parse import identify_partition, parse_part
from iotad.smk import job, registry

with job(snakemake, "parse") as log:
    reg = registry(snakemake)
    spec = reg.dataset(snakemake.wildcards.dataset)
    part = snakemake.wildcards.part
    aux = dict(zip(spec.aux_files, snakemake.input.aux))
    frame = parse_part(spec, list(snakemake.input.files), aux)
    meta = {
        "dataset": spec.name,
        "part": part,
        "rows": len(frame),
        "sources": {key: reg.file(key).sha256 for key in spec.parts[part]},  # verified on download
    }
    partition = identify_partition(spec, len(frame), ", ".join(snakemake.input.files))
    if partition:
        meta["partition"] = partition
        log.info("identified partition by row count: %s", partition)
    write_parquet(frame, snakemake.output[0], meta)
    log.info("%s/%s: %d rows x %d columns", spec.name, part, *frame.shape)
