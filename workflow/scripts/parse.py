"""Parse the raw files of one dataset part into typed parquet."""

from pathlib import Path

from iotad.download import content_sha256
from iotad.io import write_parquet
from iotad.parse import ParseError, parse_part
from iotad.smk import job, registry

with job(snakemake, "parse") as log:
    spec = registry(snakemake).dataset(snakemake.wildcards.dataset)
    part = snakemake.wildcards.part
    aux = {k: f"results/raw/{k}" for k in (spec.names_file, spec.header_file) if k}
    frame = parse_part(spec, list(snakemake.input.files), aux)
    meta = {
        "dataset": spec.name,
        "part": part,
        "rows": len(frame),
        "sources": {Path(p).name: content_sha256(Path(p)) for p in snakemake.input.files},
    }
    if spec.partitions_by_rows:
        if len(frame) not in spec.partitions_by_rows:
            raise ParseError(
                f"{', '.join(snakemake.input.files)}: {len(frame):,} rows match no known partition of "
                f"{spec.name} ({', '.join(f'{n:,}' for n in spec.partitions_by_rows)} rows)"
            )
        meta["partition"] = spec.partitions_by_rows[len(frame)]
        log.info("identified partition by row count: %s", meta["partition"])
    write_parquet(frame, snakemake.output[0], meta)
    log.info("%s/%s: %d rows x %d columns", spec.name, part, *frame.shape)
