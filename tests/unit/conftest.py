"""A small real slice of NSL-KDD (KDDTrain+_20Percent from the mirror) shared by the model tests."""

import pytest

from iotad.clean import CleaningOptions, clean_part
from iotad.features import FeatureTransform
from iotad.parse import parse_part
from iotad.registry import load_registry
from iotad.split import stratified_split


@pytest.fixture(scope="session")
def nsl_frames(mirror):
    """(transform, [train, val, test] frames): a stratified 56/14/30 split of the slice, the
    transform fitted on its training part."""
    spec = load_registry().dataset("nsl-kdd")
    aux = {spec.names_file: mirror / spec.names_file}
    frame = parse_part(spec, [mirror / f for f in spec.parts["train20"]], aux)
    frame, _ = clean_part(frame, spec, CleaningOptions(), "KDDTrain+_20Percent")
    rest, test = stratified_split(frame, 0.3, seed=0)
    train, val = stratified_split(rest, 0.2, seed=1)
    return FeatureTransform.fit(train), [train, val, test]


@pytest.fixture(scope="session")
def nsl_slice(nsl_frames):
    """[(X, is_attack)] for train, validation and test."""
    transform, frames = nsl_frames
    return [(transform.transform(f)[0], f["is_attack"].to_numpy()) for f in frames]


@pytest.fixture(scope="session")
def ton_frames(mirror):
    """(train, val, test) frames of TON_IoT network (de-duplicated as in config.yaml): a stratified
    63/7/30 split; the training part a seeded sample of 6,000 rows (the default run's budget)."""
    spec = load_registry().dataset("ton-iot-network")
    frame = parse_part(spec, [mirror / f for f in spec.parts["all"]], {})
    frame, _ = clean_part(frame, spec, CleaningOptions(drop_duplicates=True), "ton-iot-network")
    rest, test = stratified_split(frame, 0.3, seed=0)
    train, val = stratified_split(rest, 0.1, seed=0)
    return train.sample(6000, random_state=0), val, test


@pytest.fixture(scope="session")
def ton_slice(ton_frames):
    """[(X, is_attack, family)] for train, validation and test, transformed as fitted on train."""
    transform = FeatureTransform.fit(ton_frames[0])
    return [
        (transform.transform(f)[0], f["is_attack"].to_numpy(), f["family"].astype(str).to_numpy()) for f in ton_frames
    ]


@pytest.fixture(scope="session")
def config_hyperparameters(repo):
    """config.yaml's hyperparameters per model (the default run's settings)."""
    import yaml

    return yaml.safe_load((repo / "config.yaml").read_text())["hyperparameters"]
