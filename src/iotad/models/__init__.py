"""Detectors with one API: scikit-learn estimators with PyOD's semantics (``models.base``):
``fit(X, y=None, X_val=None, y_val=None)`` returns self, ``decision_function`` gives a continuous
anomaly score (higher = more anomalous), ``predict`` applies ``threshold_``.

``build_detectors`` is the registry: a config model name and its hyperparameters give the detectors
one job trains. Vu et al.'s representations give one detector per classifier, sharing one encoder.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

AUTOENCODERS = ("denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae")
LATENT = ("raw", "ae", "dae", "vae", "mae", "mdae", "mvae")
BASELINES = {"pca": "PcaDetector", "ocsvm": "OneClassSvmDetector"}
SUPERVISED = ("cnn_lstm",)
# Any PyOD detector (or one's own class with its interface): {model: pyod, class: ECOD, ...its parameters};
# and baselines PyOD provides under their own names (iotad's hand-written Isolation Forest gave the same
# AUROCs: tests/unit/test_pyod_models.py).
PYOD = ("pyod",)
PYOD_BASELINES = {"isolation_forest": "IForest"}
# Scores come from the canonicalization stage (novelty LOF fitted on the training split).
PRECOMPUTED = ("lof",)
MODELS = (*AUTOENCODERS, "cnn_lstm", *LATENT, *BASELINES, *PYOD_BASELINES, *PYOD, *PRECOMPUTED)


def build_detectors(name: str, params: dict, seed: int, threads: int | None) -> dict:
    """{detector name: unfitted detector} for one config model entry. The entry's name is the model,
    or any label when its params name the model (``model: deep_ae``): variants side by side."""
    params = dict(params)
    model = params.pop("model", name)
    if model in AUTOENCODERS:
        from .autoencoders import AutoencoderDetector

        return {name: AutoencoderDetector(variant=model, seed=seed, threads=threads, **params)}
    if model in LATENT:
        from .latent import CLASSIFIERS, LatentClassifierDetector, LatentEncoder

        classifiers = params.pop("classifiers", list(CLASSIFIERS))
        unknown = set(classifiers) - set(CLASSIFIERS)
        if unknown:
            raise ValueError(f"unknown classifiers {sorted(unknown)} for {model!r}; choose from {list(CLASSIFIERS)}")
        encoder = LatentEncoder(model, seed=seed, threads=threads, **params)
        return {f"{name}:{c}": LatentClassifierDetector(encoder, c, seed=seed) for c in classifiers}
    if model == "cnn_lstm":
        from .cnn_lstm import CnnLstmDetector

        return {name: CnnLstmDetector(seed=seed, threads=threads, **params)}
    if model in PYOD_BASELINES:
        model, params["class"] = "pyod", PYOD_BASELINES[model]
    if model == "pyod":
        from .pyod_models import PyodDetector

        if "class" not in params:
            raise ValueError("model 'pyod' needs 'class': a class of pyod.models (e.g. ECOD) or an import path")
        own = {
            key: params.pop(key)
            for key in ("threshold_rule", "percentile", "threshold_value", "max_normal_rows")
            if key in params
        }
        return {name: PyodDetector(detector=params.pop("class"), options=params, seed=seed, threads=threads, **own)}
    if model in BASELINES:
        from . import baselines

        return {name: getattr(baselines, BASELINES[model])(seed=seed, threads=threads, **params)}
    raise ValueError(f"unknown model {model!r}; choose one of {list(MODELS)}")


class _Pickler(pickle.Pickler):
    """Pickles detectors with each Keras network replaced by the name of its ``.keras`` file."""

    def __init__(self, file, directory: Path):
        super().__init__(file)
        self.directory, self.names = directory, {}

    def persistent_id(self, obj):
        keras = sys.modules.get("keras")  # not imported: no Keras model to save (and no import of Keras just to save)
        if keras is None or not isinstance(obj, keras.Model):
            return None
        if id(obj) not in self.names:  # a shared encoder is written once
            self.names[id(obj)] = f"{len(self.names)}-{obj.name}.keras"
            obj.save(self.directory / self.names[id(obj)])
        return self.names[id(obj)]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, directory: Path):
        super().__init__(file)
        self.directory, self.loaded = directory, {}

    def persistent_load(self, name):
        import keras

        from . import keras_parts  # noqa: F401  registers the custom layers before loading

        if name not in self.loaded:
            self.loaded[name] = keras.saving.load_model(self.directory / name, safe_mode=True)
        return self.loaded[name]


def save_detectors(detectors: dict, directory: str | Path) -> None:
    """Fitted detectors: each Keras network as a ``.keras`` file (loadable on its own with
    ``safe_mode=True`` once ``iotad.models.keras_parts`` is imported), the rest (scikit-learn state,
    thresholds) in ``detectors.pkl``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "detectors.pkl", "wb") as file:
        _Pickler(file, directory).dump(detectors)


def load_detectors(directory: str | Path) -> dict:
    directory = Path(directory)
    with open(directory / "detectors.pkl", "rb") as file:
        return _Unpickler(file, directory).load()


# Keys any model takes, handled by the job rather than the model: training rows (max_train_rows,
# distinct_rows), the columns read (feature_columns), robustness-sweep bookkeeping (sweep).
JOB_OPTIONS = ("max_train_rows", "distinct_rows", "feature_columns", "sweep")


def resolved_hyperparameter(name: str, hyperparameters: dict, parameter: str):
    """The value config model ``name`` trains with for ``parameter`` (dotted into a dict-valued one,
    ``layer_options.l1_code``): its config entry, else the detector's declared default (for a
    representation's latent weight and centres, the paper's value that None stands for)."""
    if parameter in JOB_OPTIONS:  # the job's, not the detector's
        return (hyperparameters.get(name) or {}).get(parameter)
    params = {k: v for k, v in (hyperparameters.get(name) or {}).items() if k not in JOB_OPTIONS}
    detector = next(iter(build_detectors(name, params, seed=0, threads=None).values()))
    detector = getattr(detector, "encoder", detector)  # a latent model's hyperparameters are its encoder's
    head, _, leaf = parameter.partition(".")
    if not hasattr(detector, head) and hasattr(detector, "options"):  # a PyOD class's own parameter
        import inspect

        from .pyod_models import pyod_class

        signature = inspect.signature(pyod_class(detector.detector)).parameters
        return (detector.options or {}).get(head, signature[head].default if head in signature else None)
    value = getattr(detector, head)
    if leaf:
        import inspect

        from .autoencoders import build_autoencoder

        return (value or {}).get(leaf, inspect.signature(build_autoencoder).parameters[leaf].default)
    if value is None and head in ("latent_weight", "centres"):
        from .latent import REPRESENTATIONS

        _, _, centres, weight = REPRESENTATIONS[detector.representation]
        return weight if head == "latent_weight" else list(centres)
    return list(value) if isinstance(value, tuple) else value


def _job_option_constraints() -> dict:
    from .params import POSITIVE_INT

    return {
        "max_train_rows": [POSITIVE_INT, None],
        "distinct_rows": ["boolean", None],
        "feature_columns": [list, None],
        "sweep": [dict, None],
    }


def check_model_params(models: list[str], hyperparameters: dict, where: str = "hyperparameters.{name}") -> None:
    """Fail at start-up, naming the config key, when a model, a hyperparameter or its value is unknown
    or out of range: each detector checks its values against its declared constraints when built."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    for name in models:
        params = dict(hyperparameters.get(name) or {})
        key = f"config {where.format(name=name)}"
        options = {option: params.pop(option) for option in JOB_OPTIONS if option in params}
        try:
            validate_parameter_constraints(_job_option_constraints(), options, caller_name="the training job")
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        model = params.get("model", name)
        if model not in MODELS:
            raise ValueError(
                f"config models: unknown model {name!r}; choose one of {list(MODELS)} or give "
                f"hyperparameters.{name}.model"
            )
        if model in PRECOMPUTED:
            if set(params) - {"model"}:
                raise ValueError(f"{key}: {model} takes none here; set them under '{model}:'")
            continue
        try:
            for detector in build_detectors(name, params, seed=0, threads=None).values():
                detector.check_config()
        except TypeError as exc:
            if isinstance(exc, ValueError):  # scikit-learn's InvalidParameterError is both: a value
                raise ValueError(f"{key}: {exc}") from None
            raise ValueError(f"{key}: {exc} (check the hyperparameter names)") from None
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
