"""2-D latent plots: plain AE codes beside MAE codes on one dataset's first test split."""

from pathlib import Path

from iotad.figures import latent_figure
from iotad.models import load_detectors
from iotad.models.keras_setup import configure
from iotad.runs import Matrix
from iotad.smk import job

with job(snakemake, "latent_figure") as log:
    configure(0, snakemake.threads)
    test = Matrix.read(snakemake.input.test)
    codes = {}
    for model_dir in snakemake.input.models:
        detectors = load_detectors(model_dir)
        encoder = next(iter(detectors.values())).encoder_  # fitted once, shared by the classifiers
        codes[Path(model_dir).parts[-3]] = encoder.transform(test.X)
    latent_figure(
        codes,
        test.rows["is_attack"].to_numpy(bool),
        f"{snakemake.wildcards.dataset}: latent codes",
        snakemake.output.png,
        snakemake.output.svg,
    )
    log.info("%s codes of %d records", list(codes), len(test.rows))
