"""Benchmark: the networks' training throughput, bare Keras against iotad's trainer (issue 16), and
scoring throughput (issue 4).

For every network family (the seed paper's four autoencoders, Vu et al.'s AE/DAE/VAE/MAE/MDAE/MVAE,
the CNN-LSTM) at its paper batch size (or the ``--batch-sizes`` given), on the same rows of NSL-KDD's
KDDTrain+ (MinMax-scaled, 122 features; the autoencoders train on its normal rows), one thread:

- bare Keras: ``model.fit`` of the same Keras network (``build_autoencoder``, ``build_latent_model``,
  ``build_cnn_lstm``), one seed at a time, the validation rows evaluated each epoch as iotad does;
- bare Keras with ``compile(steps_per_execution=32)`` (``--keras-spe``), Keras' own lever;
- iotad's trainer, default backend (TensorFlow): the job's seeds (``--seeds``, 5) trained together by
  ``models.stacked`` (the CNN-LSTM: ``CnnLstmDetector.fit``, one seed at a time, with ``unroll_lstm``,
  as ``config/paper_exact.yaml`` trains it);
- iotad's trainer on JAX (``KERAS_BACKEND=jax``: a child process on the same rows, model by model
  right after TensorFlow's figures).

The TensorFlow kinds alternate within each repeat (in a rotating order), so that load from other
processes on the machine falls on each alike.

Records per second per seed: every seed's training records (rows x epochs) over the wall time,
seeds trained together counted each. "Epoch" figures leave out each fit's first epoch (Keras'
tracing, iotad's XLA compilation): the steady rate; "fit" figures are whole fits, first epoch
included, at this benchmark's rows and epochs (the fixed start-up weighs more the shorter the fit).
Medians of ``--repeats`` runs. Ratios are to bare Keras at the same batch size. The roofline share is
the training FLOP rate (6 x the forward multiply-adds per record) over a float32 matmul's measured on
this machine, one thread (the higher of TensorFlow's and JAX's). The last validation loss (mean over
seeds for iotad) shows the results are alike: each backend has its own initial weights and random
streams, so they agree in size, not in digits.

    .venv/bin/python bench/models.py [--rows 10000] [--epochs 3] [--repeats 3] [--batch-sizes paper|100,256]

Targets (issue 16): iotad's epoch rate on the default backend >= 5x bare Keras at batch 100 and >= 3x
at batch 256, autoencoder and latent families; scoring >= 500,000 records/s (issue 4).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

AUTOENCODERS = ("denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae")
REPRESENTATIONS = ("ae", "dae", "vae", "mae", "mdae", "mvae")
PAPER_BATCH = {**dict.fromkeys(AUTOENCODERS, 256), **dict.fromkeys(REPRESENTATIONS, 100), "cnn_lstm": 64}
TARGETS = {100: 5.0, 256: 3.0}


def kdd_train_plus(mirror: Path):
    """(all rows X, training (X, is_attack, family), validation (X, is_attack, family)) of KDDTrain+."""
    from iotad.clean import CleaningOptions, clean_part
    from iotad.features import FeatureTransform
    from iotad.parse import parse_part
    from iotad.registry import load_registry
    from iotad.split import stratified_split

    spec = load_registry().dataset("nsl-kdd")
    frame = parse_part(spec, [mirror / f for f in spec.parts["train"]], {spec.names_file: mirror / spec.names_file})
    frame, _ = clean_part(frame, spec, CleaningOptions(), "KDDTrain+")
    train, val = stratified_split(frame, 0.1, seed=1)
    transform = FeatureTransform.fit(train)
    out = {"X_all": transform.transform(frame)[0]}
    for name, part in (("train", train), ("val", val)):
        out[f"X_{name}"] = transform.transform(part)[0]
        out[f"y_{name}"] = part["is_attack"].to_numpy(bool)
        out[f"f_{name}"] = np.asarray(part["family"].astype(str).to_numpy(), dtype=str)
    return out


def rows_for(model: str, data: dict, rows: int, val_rows: int):
    """(X, y, families, X_val, y_val, families_val) for a model: the autoencoders' normal rows only."""
    parts = []
    for name, n in (("train", rows), ("val", val_rows)):
        X, y, f = data[f"X_{name}"], data[f"y_{name}"], data[f"f_{name}"]
        if model in AUTOENCODERS:
            X, y, f = X[~y], y[~y], f[~y]
        keep = np.sort(np.random.default_rng(0).permutation(len(X))[:n])
        parts += [X[keep], y[keep], f[keep]]
    return parts


def forward_macs(model) -> int:
    """Multiply-adds of one record's forward pass through a Keras model's Dense, Conv1D and LSTM layers."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, layers.Conv1D):
            total += int(np.prod(layer.kernel.shape)) * int(layer.output.shape[1])
        elif isinstance(layer, layers.LSTM):
            steps, width = layer.input.shape[1], layer.input.shape[2]
            total += int(steps) * 4 * (int(width) + layer.units) * layer.units
    return total


def matmul_peak(threads: int) -> float:
    """FLOP/s of a 2048 x 2048 float32 matmul on this backend, one thread: the compute roof."""
    import keras
    from keras import ops

    n = 2048
    a = ops.convert_to_tensor(np.random.default_rng(0).random((n, n), dtype="float32"))
    if keras.backend.backend() == "jax":
        import jax

        f = jax.jit(lambda x: x @ x)
    else:
        import tensorflow as tf

        f = tf.function(lambda x: tf.linalg.matmul(x, x))
    np.asarray(f(a))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        np.asarray(f(a))
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


class EpochClock:
    """A Keras callback timing each epoch (validation included)."""

    def __new__(cls):
        import keras

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times, self.start = [], time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                self.times.append(now - self.start)
                self.start = now
                self.val_loss = (logs or {}).get("val_loss")

        return Clock()


def keras_network(model: str, features: int, classes: int, seed: int, spe: int):
    """The model's Keras network, seeded and compiled as iotad builds it, with ``steps_per_execution=spe``."""
    import keras

    from iotad.models import keras_setup

    keras_setup.configure(seed, 1)
    compile_ = keras.Model.compile
    keras.Model.compile = lambda self, *a, **kw: compile_(self, *a, **{**kw, "steps_per_execution": spe})
    try:
        if model in AUTOENCODERS:
            from iotad.models.autoencoders import build_autoencoder

            return build_autoencoder(features, model)
        if model == "cnn_lstm":
            from iotad.models.cnn_lstm import build_cnn_lstm

            return build_cnn_lstm(features, classes, learning_rate=3e-3)
        from iotad.models.latent import build_latent_model

        return build_latent_model(features, model, seed=seed)[0]
    finally:
        keras.Model.compile = compile_


def targets(model: str, X, y, families, classes):
    if model in AUTOENCODERS:
        return X
    if model == "cnn_lstm":
        return np.searchsorted(classes, families)
    from iotad.models.latent import LatentEncoder

    encoder = LatentEncoder(model)
    centre = encoder._centres(y)
    return {"reconstruction": X, "latent": np.repeat(centre[:, None], encoder.code, axis=1)}


def bare_keras(model, parts, epochs, batch, spe) -> dict:
    X, y, f, Xv, yv, fv = parts
    classes = np.unique(f)
    net = keras_network(model, X.shape[1], len(classes), seed=0, spe=spe)
    clock = EpochClock()
    start = time.perf_counter()
    seen = np.isin(fv, classes)
    net.fit(
        X,
        targets(model, X, y, f, classes),
        epochs=epochs,
        batch_size=batch,
        shuffle=True,
        verbose=0,
        validation_data=(Xv[seen], targets(model, Xv[seen], yv[seen], fv[seen], classes)),
        validation_batch_size=8192,
        callbacks=[clock],
    )
    seconds = time.perf_counter() - start
    return {
        "fit": len(X) * epochs / seconds,
        "epoch": len(X) * (epochs - 1) / sum(clock.times[1:]),
        "first_epoch_s": clock.times[0],
        "val_loss": clock.val_loss,
        "macs": forward_macs(net),
    }


def iotad_trainer(model, parts, epochs, batch, seeds) -> dict:
    from iotad.models import build_detectors, stacked

    X, y, f, Xv, yv, fv = parts
    params = {"epochs": epochs, "batch_size": batch, "patience": None}
    if model == "cnn_lstm":  # its own per-seed path (Keras fit inside CnnLstmDetector), timed as bare Keras'
        import keras

        detector = build_detectors(model, {**params, "unroll_lstm": True}, seed=0, threads=1)[model]
        clock, fit = EpochClock(), keras.Model.fit
        keras.Model.fit = lambda self, *a, callbacks=(), **kw: fit(self, *a, callbacks=[*callbacks, clock], **kw)
        try:
            detector.fit(X, f, Xv, fv)
        finally:
            keras.Model.fit = fit
        return {
            "fit": len(X) * epochs / detector.fit_seconds_,  # Keras' fit only (not the training rows' scoring)
            "epoch": len(X) * (epochs - 1) / sum(clock.times[1:]),
            "first_epoch_s": clock.times[0],
            "val_loss": detector.history_["val_loss"][-1],
        }
    parts_ = [
        stacked.trainable_part(next(iter(build_detectors(model, params, seed=s, threads=1).values())))
        for s in range(seeds)
    ]
    tasks = [p._training_task(X, y, Xv, yv) for p in parts_]
    result = stacked.train(tasks)
    group, first = result[0].group_seconds, result[0].compile_seconds
    records = seeds * len(tasks[0].X) * epochs
    return {
        "fit": records / group,
        "epoch": seeds * len(tasks[0].X) * (epochs - 1) / (group - first),
        "first_epoch_s": first,
        "val_loss": float(np.mean([r.history["val_loss"][-1] for r in result])),
    }


def median_of(runs: list[dict]) -> dict:
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = statistics.median(values) if values and not isinstance(values[0], str) else None
    out["runs"] = [r["epoch"] if r["epoch"] is not None else r["fit"] for r in runs]
    return out


def measure(kinds: list[str], model: str, batches: list[int], data, args) -> dict:
    """{kind: {batch: medians}} for one model in this process's backend: the kinds ("keras", "keras_spe",
    "iotad") alternate within each repeat (in a rotating order), so load from elsewhere falls on all."""
    out = {kind: {} for kind in kinds}
    parts = rows_for(model, data, args.rows, args.val_rows)
    for batch in batches:
        runs = {kind: [] for kind in kinds}
        for repeat in range(args.repeats):
            for kind in kinds[repeat % len(kinds) :] + kinds[: repeat % len(kinds)]:
                if kind == "iotad":
                    runs[kind].append(iotad_trainer(model, parts, args.epochs, batch, args.seeds))
                else:
                    runs[kind].append(bare_keras(model, parts, args.epochs, batch, 32 if kind == "keras_spe" else 1))
        for kind in kinds:
            out[kind][str(batch)] = median_of(runs[kind])
            rate = out[kind][str(batch)]
            print(
                f"  {kind:9s} {model:25s} batch {batch:3d}: epoch rate {rate['epoch'] or 0:10,.0f}  fit rate "
                f"{rate['fit']:10,.0f} records/s per seed  (load {load_average()})",
                file=sys.stderr,
                flush=True,
            )
    return out


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def child(args) -> None:
    """The JAX figures of one model: iotad's trainer in this process's backend, printed as JSON."""
    from iotad.models.keras_setup import select_backend

    select_backend(args.child, 1)
    data = dict(np.load(args.data))
    model = args.models[0]
    out = {"iotad": measure(["iotad"], model, batch_sizes(args, model), data, args)["iotad"]}
    if args.peak:
        out["peak"] = matmul_peak(1)
    print(json.dumps(out))


def batch_sizes(args, model) -> list[int]:
    """The model's paper batch size, or the ones given."""
    if args.batch_sizes == "paper":
        return [PAPER_BATCH[model]]
    return [int(b) for b in args.batch_sizes.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mirror", type=Path, default=Path(os.environ.get("IOTAD_DATA_MIRROR", REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--rows", type=int, default=10000, help="training rows per seed")
    parser.add_argument("--val-rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="seeds iotad trains together (a job's)")
    parser.add_argument("--batch-sizes", default="paper", help="'paper' (each family's) or a list: 100,256")
    parser.add_argument("--models", nargs="+", default=[*AUTOENCODERS, *REPRESENTATIONS, "cnn_lstm"])
    parser.add_argument("--keras-spe", action="store_true", help="also bare Keras with steps_per_execution=32")
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from iotad.models.keras_setup import select_backend

    select_backend("tensorflow", 1)
    started = datetime.now(UTC)
    load_before = load_average()
    data = kdd_train_plus(args.mirror)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average {load_before}; KDDTrain+ "
        f"{len(data['X_all']):,} rows x {data['X_all'].shape[1]} features; {args.rows:,} training rows per seed "
        f"(autoencoders: normal rows), {args.val_rows:,} validation rows, {args.epochs} epochs, one thread, "
        f"medians of {args.repeats}",
        flush=True,
    )
    peak, jax_peak = matmul_peak(1), None
    kinds = ["keras", "keras_spe", "iotad"] if args.keras_spe else ["keras", "iotad"]
    figures = {kind: {} for kind in kinds + ([] if args.no_jax else ["jax"])}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "data.npz", **{k: v for k, v in data.items() if k != "X_all"})
        for model in args.models:
            for kind, values in measure(kinds, model, batch_sizes(args, model), data, args).items():
                figures[kind][model] = values
            if args.no_jax or model == "cnn_lstm":  # the CNN-LSTM trains through Keras' fit: see bare Keras
                continue
            # JAX right after TensorFlow, model by model: in a child process (one backend per process)
            command = [
                sys.executable,
                __file__,
                "--child",
                "jax",
                "--data",
                str(Path(tmp) / "data.npz"),
                "--rows",
                str(args.rows),
                "--val-rows",
                str(args.val_rows),
                "--epochs",
                str(args.epochs),
                "--repeats",
                str(args.repeats),
                "--seeds",
                str(args.seeds),
                "--batch-sizes",
                args.batch_sizes,
                "--models",
                model,
            ] + ([] if jax_peak else ["--peak"])
            done = subprocess.run(
                command, env={**os.environ, "KERAS_BACKEND": "jax"}, stdout=subprocess.PIPE, text=True, check=True
            )
            jax = json.loads(done.stdout.strip().splitlines()[-1])
            figures["jax"][model] = jax["iotad"]
            jax_peak = jax.get("peak", jax_peak)
    report(figures, peak, jax_peak, args)
    score_throughput(data)
    print(f"load average at the end {load_average()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "started": started.isoformat(),
                    "load_average": load_before,
                    "peak": peak,
                    "jax_peak": jax_peak,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "figures": figures,
                },
                indent=1,
            )
        )


def report(figures: dict, peak: float, jax_peak: float | None, args) -> None:
    print(
        f"\nmatmul roof (2048x2048 float32, one thread): TensorFlow {peak / 1e9:.1f} GFLOP/s"
        + (f", JAX {jax_peak / 1e9:.1f} GFLOP/s" if jax_peak else "")
        + "; the higher is the roof of both"
    )
    peak = jax_peak = max(peak, jax_peak or 0)
    print(
        "records/s per seed; 'epoch': first epoch left out; 'fit': whole fit; (x): ratio to bare Keras; "
        "roof: share of the matmul roof\n"
    )
    head = (
        f"{'model':25s} {'batch':>5s} | {'bare Keras':>10s} {'fit':>8s} |"
        + (f" {'Keras spe32':>11s}   {'':>6s} |" if "keras_spe" in figures else "")
        + f" {'iotad TF':>10s} {'(x)':>6s} {'fit (x)':>8s} {'roof':>5s} |"
        + (f" {'iotad JAX':>10s} {'(x)':>6s} {'fit (x)':>8s} {'roof':>5s} |" if "jax" in figures else "")
        + " last val_loss: Keras / TF / JAX"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for model, batches in figures["keras"].items():
        for batch, bare in batches.items():
            line = f"{model:25s} {batch:>5s} | {bare['epoch']:10,.0f} {bare['fit']:8,.0f} |"
            if "keras_spe" in figures:
                spe = figures["keras_spe"][model][batch]
                line += f" {spe['epoch']:11,.0f} {spe['epoch'] / bare['epoch']:5.1f}x |"
            flops = 6 * bare["macs"]
            losses = [bare["val_loss"]]
            for key, roof in (("iotad", peak), ("jax", jax_peak)):
                if key not in figures:
                    continue
                mine = figures[key].get(model, {}).get(batch)
                if mine is None:
                    line += f" {'-':>10s} {'':>6s} {'':>8s} {'':>5s} |"
                    losses.append(None)
                    continue
                rate = mine["epoch"] if mine["epoch"] is not None else mine["fit"]
                base = bare["epoch"] if mine["epoch"] is not None else bare["fit"]
                line += (
                    f" {rate:10,.0f} {rate / base:5.1f}x {mine['fit'] / bare['fit']:7.1f}x {flops * rate / roof:5.1%} |"
                )
                losses.append(mine["val_loss"])
                if key == "iotad" and model != "cnn_lstm" and int(batch) in TARGETS:
                    verdicts.append((model, int(batch), rate / bare["epoch"]))
            line += " " + " / ".join("-" if v is None else f"{v:.4g}" for v in losses)
            print(line)
    print(
        "\nforward multiply-adds per record: "
        + ", ".join(f"{m} {b['macs']:,}" for m, bs in figures["keras"].items() for b in list(bs.values())[:1])
    )
    print("\ntargets (issue 16: iotad's epoch rate, default backend, vs bare Keras at the same batch size):")
    for batch, target in TARGETS.items():
        ratios = [(m, r) for m, b, r in verdicts if b == batch]
        if ratios:
            worst = min(ratios, key=lambda x: x[1])
            state = "met" if worst[1] >= target else "NOT met"
            print(
                f"  batch {batch}: >= {target:.0f}x {state} (lowest {worst[1]:.1f}x, {worst[0]}; {len(ratios)} models)"
            )
        else:
            print(f"  batch {batch}: not measured (--batch-sizes 100,256 measures every family at both)")


def score_throughput(data: dict) -> None:
    """deep_ae's decision_function on every KDDTrain+ row (issue 4: >= 500,000 records/s)."""
    from iotad.models.autoencoders import AutoencoderDetector

    X, y = data["X_train"], data["y_train"]
    d = AutoencoderDetector("deep_ae", epochs=1, seed=0, threads=1).fit(X[:5000], y[:5000])
    X_all = data["X_all"]
    d.decision_function(X_all)  # warm-up: one graph trace per chunk shape
    times = []
    for _ in range(5):
        start = time.perf_counter()
        d.decision_function(X_all)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    print(
        f"\ndecision_function (deep_ae, all {len(X_all):,} KDDTrain+ rows, one thread): {len(X_all) / med:,.0f} records/s"
        f" (target >= 500,000)"
    )


if __name__ == "__main__":
    main()
