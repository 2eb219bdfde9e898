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
