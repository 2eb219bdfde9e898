"""The training engine of the autoencoders and latent models: every seed of a job in one compiled graph.

Keras' ``model.fit`` spends most of a small network's training time on per-step overhead (a Python
round trip, a data-pipeline step and a graph call per batch of 100-256 rows), not on arithmetic. Here
one epoch of every seed of a job is one call of one compiled function (``tf.function`` with XLA on
TensorFlow, ``jax.jit`` on JAX): a loop over the seeds, each running a loop over its training steps.

The mathematics is Keras' for the same network: each network's forward pass and loss (``Net``)
written in ``keras.ops`` over its Keras model's Dense layers (the same activations, the loss as the
weighted per-output means plus the kernel and activity regularizers), Adam with Keras' update rule and
defaults, a reshuffle every epoch, and ``EarlyStopping(monitor="val_loss", restore_best_weights=True)``'s
rule. What differs from ``model.fit``: what a seed's random numbers are (its shuffling from NumPy, its
dropout and noise from the backend's stateless generators, all derived from the seed alone), and how
the last, partial batch of an epoch runs: padded to the full batch shape with rows of weight 0 (fixed
shapes: the step compiles once), its loss the mean over its real rows, as Keras' smaller last batch.

The seeds' weights, Adam moments and step counts are stacked along a leading seed axis. Seeds are
independent by construction: the loop body is one seed's training step, compiled once, and it reads
and writes that seed's slice only (its weights, rows, batch order, step count and random streams), so
a seed's result is bit-identical whether it trains alone or beside others, and the compile time does
not grow with the number of seeds. Batched ops over the seed axis (an einsum per layer, or vmap) were
measured too: no faster once the per-step overhead is gone, and they change a seed's rounding with the
number of seeds beside it (~1e-8 on the weights after three epochs, which training amplifies). A seed
whose early stopping fired runs no steps; a seed with fewer rows runs fewer steps per epoch.

Each seed's initial weights are its single-seed Keras model's (built under
``keras.utils.set_random_seed(seed)``), and the trained weights go back into that model, which is what
the detector saves and scores with: saving, loading and scoring are unchanged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils._param_validation import StrOptions

BACKENDS = ("tensorflow", "jax")
# A detector's ``backend`` hyperparameter (None: the process's Keras backend, $KERAS_BACKEND).
BACKEND_CONSTRAINT = [StrOptions(set(BACKENDS)), None]
# Adam as keras.optimizers.Adam(learning_rate) builds it (its defaults).
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7
# Validation rows per forward pass (as model.fit's validation_batch_size was): bounded memory on large
# validation splits. Fixed, so a seed's validation loss never depends on another seed's row count.
VALIDATION_CHUNK = 8192
# The epoch loop through XLA on TensorFlow (jit_compile): measured faster than TF's graph executor on
# these networks (bench/models.py); the validation pass keeps the graph executor (large chunks: XLA
# would add compile time only).
TENSORFLOW_XLA = True


def keras_backend() -> str:
    import keras

    return keras.backend.backend()


def check_backend(wanted: str | None, who: str) -> None:
    """A detector's ``backend`` must be the process's Keras backend, which is fixed when Keras is
    first imported (``KERAS_BACKEND``; the training job sets it from the model's config first)."""
    if wanted is not None and wanted != keras_backend():
        raise ValueError(
            f"{who} asks for the {wanted!r} Keras backend, but this process runs Keras on "
            f"{keras_backend()!r}: set KERAS_BACKEND={wanted} before Keras is imported (the training "
            "job does this from the model's 'backend' hyperparameter)"
        )


def stream(seed: int, tag: str) -> int:
    """A 31-bit integer naming one of a seed's random streams (dropout, input noise, sampling)."""
    return int(np.random.SeedSequence([seed, *tag.encode()]).generate_state(1)[0] >> 1)


def shuffler(seed: int) -> np.random.Generator:
    """The generator of a seed's epoch orders."""
    return np.random.default_rng(np.random.SeedSequence([seed, *b"shuffle"]))


# ---------------------------------------------------------------------------------------------------
# The backends' own pieces: gradients, compilation and stateless random numbers. The rest is keras.ops.


class _Backend:
    def __init__(self, name: str):
        self.name = name
        if name == "tensorflow":
            import tensorflow as tf

            self.tf = tf
        elif name == "jax":
            import jax

            self.jax = jax
        else:
            raise ValueError(f"unknown Keras backend {name!r}; choose from {list(BACKENDS)}")

    def value_and_grad(self, fn):
        """fn(params) -> (loss, aux) becomes params -> ((loss, aux), d loss / d params)."""
        if self.name == "jax":
            return self.jax.value_and_grad(fn, has_aux=True)
        tf = self.tf

        def wrapped(params):
            with tf.GradientTape() as tape:
                tape.watch(params)
                loss, aux = fn(params)
            return (loss, aux), tape.gradient(loss, params)

        return wrapped

    def compile(self, fn, xla: bool = True):
        if self.name == "jax":
            return self.jax.jit(fn)
        return self.tf.function(fn, jit_compile=TENSORFLOW_XLA and xla, reduce_retracing=False, autograph=False)

    # TensorFlow's stateless generators under XLA: ThreeFry (measured 50-160 us per 100 x 122 uniform
    # draw in a compiled loop, Philox ~470 us); the graph executor has no ThreeFry kernel. Normal draws
    # as JAX makes them, sqrt(2) erfinv(u) of a uniform u in (-1, 1): 220-260 us against 490-960 us
    # for stateless_normal's.
    def _tf_alg(self) -> str:
        return "threefry" if TENSORFLOW_XLA else "auto_select"

    def uniform(self, shape, stream_id, counter):
        if self.name == "jax":
            return self.jax.random.uniform(self._key(stream_id, counter), shape, dtype="float32")
        tf = self.tf
        return tf.random.stateless_uniform(shape, tf.stack([stream_id, counter]), dtype=tf.float32, alg=self._tf_alg())

    def normal(self, shape, stream_id, counter):
        if self.name == "jax":
            return self.jax.random.normal(self._key(stream_id, counter), shape, dtype="float32")
        tf = self.tf
        lowest = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))
        u = tf.random.stateless_uniform(
            shape, tf.stack([stream_id, counter]), minval=lowest, maxval=1.0, dtype=tf.float32, alg=self._tf_alg()
        )
        return np.float32(np.sqrt(2.0)) * tf.math.erfinv(u)

    def _key(self, stream_id, counter):
        return self.jax.random.fold_in(self.jax.random.key(stream_id), counter)


class Random:
    """One seed's random numbers at one training step: each of its net's named streams drawn with the
    seed's step count as the counter, so no other seed's draws can touch them."""

    def __init__(self, backend: _Backend, tags: tuple[str, ...], streams, counter):
        self.backend, self.tags, self.streams, self.counter = backend, tags, streams, counter

    def uniform(self, shape, tag: str):
        return self.backend.uniform(shape, self.streams[self.tags.index(tag)], self.counter)

    def normal(self, shape, tag: str):
        return self.backend.normal(shape, self.streams[self.tags.index(tag)], self.counter)


# ---------------------------------------------------------------------------------------------------
# Networks: one seed's forward pass and loss in keras.ops, over the kernels and biases of the Keras
# model's Dense layers.


class Net:
    """Base of the networks the engine trains. ``layers`` names the Keras model's Dense layers whose
    kernels and biases are the trained parameters, in order; ``components`` the per-output losses
    logged beside ``loss`` (Keras' ``<output>_loss``); ``random_tags`` its random streams. Seeds train
    in one graph when their nets' ``signature`` (the structure and every constant of the loss) agree."""

    layers: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    random_tags: tuple[str, ...] = ()

    def __init__(self, model):
        self.model = model

    def signature(self) -> tuple:
        shapes = tuple(tuple(w.shape) for w in self.initial_weights())
        return type(self), self.layers, shapes, self.constants()

    def constants(self) -> tuple:
        """Every number the loss uses besides the weights (``signature``)."""
        return ()

    def initial_weights(self) -> list[np.ndarray]:
        out = []
        for name in self.layers:
            layer = self.model.get_layer(name)
            out += [np.asarray(layer.kernel.numpy(), "float32"), np.asarray(layer.bias.numpy(), "float32")]
        return out

    def set_weights(self, weights) -> None:
        """The trained weights into the Keras model. Its optimizer is built (zero state) so the saved
        model has the variables a reload expects (the engine's Adam state is not kept)."""
        for i, name in enumerate(self.layers):
            layer = self.model.get_layer(name)
            layer.kernel.assign(np.asarray(weights[2 * i]))
            layer.bias.assign(np.asarray(weights[2 * i + 1]))
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)

    def dense(self, params, name: str, x, activation=None):
        """Keras' Dense: matmul, bias, activation."""
        from keras import ops

        i = self.layers.index(name)
        y = ops.add(ops.matmul(x, params[2 * i]), params[2 * i + 1])
        return activation(y) if activation is not None else y

    def row_losses(self, params, x, centre, random: Random | None):
        """({component: per-row loss}, per-row loss) of a batch: the loss is the per-row loss's mean
        plus ``penalty``. ``centre`` is each row's class centre (latent models); ``random`` is None in
        inference mode (validation: no dropout, noise or sampling)."""
        raise NotImplementedError

    def penalty(self, params):
        """The batch-level term of the loss (kernel regularizers), or None."""
        return None


# ---------------------------------------------------------------------------------------------------
# The engine.


@dataclass
class Task:
    """One seed's training: its network, rows (and each row's class centre, latent models),
    validation rows, settings and seed."""

    net: Net
    X: np.ndarray
    centre: np.ndarray | None
    X_val: np.ndarray | None
    centre_val: np.ndarray | None
    seed: int
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int | None  # None: no early stopping (the last epoch's weights are kept)
    context: dict = field(default_factory=dict)  # what the detector keeps for after training


@dataclass
class Result:
    weights: list
    history: dict
    seconds: float  # this seed's share of its group's wall time (the group's time / its seeds)
    group_seconds: float  # the group's training wall time, its first (compiling) epoch included
    group_size: int
    epochs_run: int
    compile_seconds: float  # the first epoch's wall time (tracing and compiling included)
    best_epoch: int | None = None


class _Rows:
    """The group's rows in one device array, each distinct array once (a job's seeds often share a
    view), plus zero rows at the end for padded chunks; ``add`` returns an array's first row."""

    def __init__(self, pad: int):
        self.pad, self.parts, self.starts, self.size = pad, [], {}, 0

    def add(self, X: np.ndarray, centre: np.ndarray | None) -> int:
        key = (id(X), id(centre))
        if key not in self.starts:
            self.starts[key] = self.size
            self.parts.append((X, centre))
            self.size += len(X)
        return self.starts[key]

    def arrays(self, features: int):
        X = [np.asarray(x, "float32") for x, _ in self.parts] + [np.zeros((self.pad, features), "float32")]
        c = [np.zeros(len(x), "float32") if c is None else np.asarray(c, "float32") for x, c in self.parts]
        return np.concatenate(X), np.concatenate(c + [np.zeros(self.pad, "float32")])


def _group_key(task: Task) -> tuple:
    return task.net.signature(), task.batch_size


def train(tasks: list[Task], log=None) -> list[Result]:
    """Train the tasks' networks together: one compiled epoch function runs every seed's steps. The
    tasks must have equal net signatures and batch sizes (one config model's seeds do); epochs,
    learning rate and patience may differ. Returns per task the weights to keep and the history."""
    if not tasks:
        return []
    if len({_group_key(t) for t in tasks}) > 1:
        raise ValueError("tasks trained together need the same network, loss and batch size")
    import keras
    from keras import ops

    backend = _Backend(keras.backend.backend())
    S, net, batch = len(tasks), tasks[0].net, tasks[0].batch_size
    steps_of = np.array([math.ceil(len(t.X) / batch) for t in tasks], "int32")
    steps = int(steps_of.max())
    validating = np.array([t.X_val is not None and len(t.X_val) > 0 for t in tasks])
    features = tasks[0].X.shape[1]

    rows = _Rows(pad=0)
    starts = np.array([rows.add(t.X, t.centre) for t in tasks], "int32")
    X_all, c_all = (ops.convert_to_tensor(a) for a in rows.arrays(features))
    chunk = VALIDATION_CHUNK
    val_rows = _Rows(pad=chunk)
    val_starts = np.array([val_rows.add(t.X_val, t.centre_val) if v else 0 for t, v in zip(tasks, validating)], "int32")
    val_counts = np.array([len(t.X_val) if v else 0 for t, v in zip(tasks, validating)], "int32")
    Xv_all, cv_all = (ops.convert_to_tensor(a) for a in val_rows.arrays(features))
    streams = ops.convert_to_tensor(
        np.array([[stream(t.seed, tag) for tag in net.random_tags] or [0] for t in tasks], "int32")
    )
    rates = ops.convert_to_tensor(np.array([t.learning_rate for t in tasks], "float32"))
    width = 1 + len(net.components)

    def seed_epoch(k, state, order, weights, n_steps, data):
        """Seed k's steps of one epoch on its own slice of the stacked state."""
        X_all, c_all, streams, rates = data
        params, m, v, t, sums = state
        mine = ([p[k] for p in params], [a[k] for a in m], [a[k] for a in v], t[k], ops.zeros((width,), "float32"))
        seed_streams, rate = streams[k], rates[k]

        def step(i, carry):
            p, mk, vk, tk, sk = carry
            idx, wb = order[k, i], weights[k, i]
            xb, cb = ops.take(X_all, idx, axis=0), ops.take(c_all, idx, axis=0)
            tk = tk + 1
            count = ops.sum(wb)

            def loss_fn(q):
                terms, per_row = net.row_losses(q, xb, cb, Random(backend, net.random_tags, seed_streams, tk))
                loss = ops.divide(ops.sum(ops.multiply(per_row, wb)), count)
                penalty = net.penalty(q)
                if penalty is not None:
                    loss = loss + penalty
                return loss, [ops.divide(ops.sum(ops.multiply(terms[c], wb)), count) for c in net.components]

            (loss, parts), grads = backend.value_and_grad(loss_fn)(list(p))
            n = ops.cast(tk, "float32")
            alpha = rate * ops.sqrt(1 - ops.power(BETA_2, n)) / (1 - ops.power(BETA_1, n))
            new_p, new_m, new_v = [], [], []
            for w, a, b, g in zip(p, mk, vk, grads):  # Keras' Adam.update_step
                a = a + (g - a) * (1 - BETA_1)
                b = b + (ops.square(g) - b) * (1 - BETA_2)
                new_p.append(w - (a * alpha) / (ops.sqrt(b) + EPSILON))
                new_m.append(a)
                new_v.append(b)
            # Keras' running mean of the loss: each batch's mean weighted by its rows.
            return new_p, new_m, new_v, tk, sk + count * ops.stack([loss, *parts])

        p, mk, vk, tk, sk = ops.fori_loop(0, n_steps[k], step, mine)

        def put(stack, value):
            return ops.slice_update(stack, [k] + [0] * len(value.shape), ops.expand_dims(value, 0))

        return (
            [put(a, b) for a, b in zip(params, p)],
            [put(a, b) for a, b in zip(m, mk)],
            [put(a, b) for a, b in zip(v, vk)],
            put(t, tk),
            put(sums, sk),
        )

    # The rows and constants are arguments, not closures: JAX would fold captured arrays into the
    # compiled program as constants.
    def epoch_fn(state, order, weights, n_steps, data):
        return ops.fori_loop(0, S, lambda k, s: seed_epoch(k, s, order, weights, n_steps, data), state)

    def val_fn(params, data):
        """Each seed's validation loss and components (their means over its rows, plus the penalty)."""
        Xv_all, cv_all, val_starts_t, val_counts_t = data

        def seed_val(k, sums):
            p = [a[k] for a in params]
            positions = ops.arange(chunk, dtype="int32")

            def one(i, acc):
                at = positions + i * chunk
                idx = at + val_starts_t[k]
                wv = ops.cast(at < val_counts_t[k], "float32")
                terms, per_row = net.row_losses(p, ops.take(Xv_all, idx, axis=0), ops.take(cv_all, idx, axis=0), None)
                return acc + ops.stack(
                    [ops.sum(ops.multiply(per_row, wv))] + [ops.sum(ops.multiply(terms[c], wv)) for c in net.components]
                )

            chunks = (val_counts_t[k] + chunk - 1) // chunk
            total = ops.fori_loop(0, chunks, one, ops.zeros((width,), "float32"))
            means = total / ops.maximum(ops.cast(val_counts_t[k], "float32"), 1.0)
            penalty = net.penalty(p)
            if penalty is not None:
                means = ops.concatenate([means[:1] + penalty, means[1:]])
            return ops.slice_update(sums, [k, 0], ops.expand_dims(means, 0))

        return ops.fori_loop(0, S, seed_val, ops.zeros((S, width), "float32"))

    data = (X_all, c_all, streams, rates)
    val_data = (Xv_all, cv_all, ops.convert_to_tensor(val_starts), ops.convert_to_tensor(val_counts))
    epoch_c, val_c = backend.compile(epoch_fn), backend.compile(val_fn, xla=False)

    initial = [t.net.initial_weights() for t in tasks]
    params = [ops.convert_to_tensor(np.stack([w[j] for w in initial])) for j in range(len(initial[0]))]
    state = (
        params,
        [ops.zeros_like(p) for p in params],
        [ops.zeros_like(p) for p in params],
        ops.zeros((S,), "int32"),
        ops.zeros((S, width), "float32"),
    )
    shufflers = [shuffler(t.seed) for t in tasks]
    names = ["loss", *net.components]
    history: list[dict] = [{} for _ in tasks]
    active = np.ones(S, bool)
    epochs_run = np.zeros(S, int)
    # EarlyStopping(monitor="val_loss", patience, restore_best_weights=True), per seed
    stopping = [t.patience is not None and v for t, v in zip(tasks, validating)]
    best, best_weights, best_epoch, wait = [math.inf] * S, [None] * S, [None] * S, [0] * S

    def seed_weights(k):
        return [np.asarray(p)[k] for p in state[0]]

    start = time.perf_counter()
    compile_seconds = 0.0
    for epoch in range(max(t.epochs for t in tasks)):
        active &= np.array([epoch < t.epochs for t in tasks])
        if not active.any():
            break
        order = np.zeros((S, steps, batch), "int32")
        weights = np.zeros((S, steps, batch), "float32")
        for k, task in enumerate(tasks):
            if active[k]:
                n = len(task.X)
                order[k].flat[:n] = starts[k] + shufflers[k].permutation(n)
                weights[k].flat[:n] = 1.0
        n_steps = np.where(active, steps_of, 0).astype("int32")
        state = (state[0], state[1], state[2], state[3], ops.zeros((S, width), "float32"))
        state = epoch_c(
            state, ops.convert_to_tensor(order), ops.convert_to_tensor(weights), ops.convert_to_tensor(n_steps), data
        )
        state = tuple(state)
        sums = np.asarray(state[4])
        val = np.asarray(val_c(state[0], val_data)) if validating.any() else None
        if epoch == 0:
            compile_seconds = time.perf_counter() - start
        for k, task in enumerate(tasks):
            if not active[k]:
                continue
            epochs_run[k] += 1
            for name, value in zip(names, sums[k] / np.float32(len(task.X))):
                history[k].setdefault(name, []).append(float(value))
            if validating[k]:
                for name, value in zip(names, val[k]):
                    history[k].setdefault(f"val_{name}", []).append(float(value))
            if not stopping[k]:
                continue
            current = float(val[k][0])
            if best_weights[k] is None:
                best_weights[k], best_epoch[k] = seed_weights(k), epoch
            wait[k] += 1
            if current < best[k]:  # Keras' rule (min_delta 0); a NaN is no improvement
                best[k], best_epoch[k], wait[k], best_weights[k] = current, epoch, 0, seed_weights(k)
            elif wait[k] >= task.patience and epoch > 0:
                active[k] = False
    seconds = time.perf_counter() - start
    if log:
        log.info(
            "trained %d seed(s) together in %.1f s (first epoch, with compilation: %.1f s)", S, seconds, compile_seconds
        )
    return [
        Result(
            best_weights[k] if stopping[k] and best_weights[k] is not None else seed_weights(k),
            {key: history[k][key] for key in sorted(history[k])},
            seconds / S,
            seconds,
            S,
            int(epochs_run[k]),
            compile_seconds,
            best_epoch[k],
        )
        for k in range(S)
    ]


def trainable_part(detector):
    """The part of a detector this engine trains (the detector itself, or a latent classifier's
    encoder), or None."""
    part = getattr(detector, "encoder", detector)
    return part if hasattr(type(part), "_training_task") else None  # not a frozen (fitted) encoder


def fit_together(detectors: list, data: list[tuple], names: list[str] | None = None, log=None) -> list:
    """Fit detectors that train through this engine (``AutoencoderDetector``, ``LatentEncoder``),
    each on its own (X, y, X_val, y_val), each as its own ``fit`` would: those with the same network
    and batch size (a config model's seeds) in one graph. ``names`` prefix the message of a ValueError
    a detector raises on its data (which job, seed and detector)."""
    groups: dict = {}
    prepared = []
    for i, (detector, (X, y, X_val, y_val)) in enumerate(zip(detectors, data)):
        try:
            task = detector._training_task(X, y, X_val, y_val)
        except ValueError as exc:
            if names is None:
                raise
            raise ValueError(f"{names[i]}: {exc}") from exc
        prepared.append(task)
        if task is not None:
            groups.setdefault(_group_key(task), []).append(i)
    results: list = [None] * len(detectors)
    for members in groups.values():
        for i, result in zip(members, train([prepared[i] for i in members], log)):
            results[i] = result
    for detector, task, result, rows in zip(detectors, prepared, results, data):
        detector._finish_training(task, result, *rows)
    return detectors
