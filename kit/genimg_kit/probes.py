"""Probes: the only code that touches a student's implementation.

A probe takes numpy arrays, calls one graded name from the student's
namespace (with spies standing in for models and schedules where the part
calls them), and returns a dict of numpy arrays: what came out, and what the
spies saw. It judges nothing; the checks do. The grader runs probes in a
sandboxed child process and receives only these arrays.

The spies return arbitrary but deterministic values: they hold no
implementation of any graded piece.
"""

import traceback

import numpy as np


class NameNotDefined(Exception):
    pass


def describe_exception(error):
    """`TypeError: ...` plus the innermost frame that raised it."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (in {last.name}, line {last.lineno}: {(last.line or '').strip()})"
    return f"{type(error).__name__}: {error}{where}"[:2000]


def _keras():
    import keras

    return keras


def _graded(namespace, name):
    value = namespace.get(name)
    if value is None:
        raise NameNotDefined(f"`{name}` not defined at the top level of the submission")
    return value


def to_numpy(value, what):
    """Converts a tensor or array-like of numbers to numpy, or says what it got."""
    keras = _keras()
    try:
        array = np.asarray(keras.ops.convert_to_numpy(value))
    except Exception:
        raise TypeError(f"{what} should be a tensor of numbers, got {type(value).__name__}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} should be a tensor of numbers, got dtype {array.dtype}")
    return array


def _pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{what} should return a pair ({names}), got {type(value).__name__}")
    return value


# --- sampler ---------------------------------------------------------------

def sampler_eager(namespace, z_mean, z_log_var, calls):
    """One Sampler layer called `calls` times eagerly on the same inputs."""
    layer = _graded(namespace, "Sampler")()
    draws = [to_numpy(layer(z_mean, z_log_var), "Sampler output") for _ in range(int(calls))]
    return {"z": np.stack(draws)}


def sampler_compiled(namespace, z_mean, z_log_var, calls):
    """Sampler inside a functional model (unknown batch size), run compiled."""
    keras = _keras()
    latent_dim = z_mean.shape[-1]
    mean_in = keras.Input(shape=(latent_dim,))
    log_var_in = keras.Input(shape=(latent_dim,))
    outputs = _graded(namespace, "Sampler")()(mean_in, log_var_in)
    model = keras.Model([mean_in, log_var_in], outputs)
    draws = [
        to_numpy(model.predict_on_batch([z_mean, z_log_var]), "Sampler output")
        for _ in range(int(calls))
    ]
    return {"z": np.stack(draws)}


# --- kl_loss ---------------------------------------------------------------

def kl_loss(namespace, z_mean, z_log_var):
    keras = _keras()
    out = _graded(namespace, "kl_loss")(
        keras.ops.convert_to_tensor(z_mean), keras.ops.convert_to_tensor(z_log_var)
    )
    return {"kl": to_numpy(out, "kl_loss output")}


# --- diffusion_schedule ----------------------------------------------------

def diffusion_schedule(namespace, times, bounds=None):
    """`bounds` = [min_signal_rate, max_signal_rate], or absent for the defaults."""
    keras = _keras()
    schedule = _graded(namespace, "diffusion_schedule")
    times = keras.ops.convert_to_tensor(times)
    if bounds is None:
        out = schedule(times)
    else:
        out = schedule(times, min_signal_rate=float(bounds[0]), max_signal_rate=float(bounds[1]))
    noise_rates, signal_rates = _pair(out, "diffusion_schedule", "noise_rates, signal_rates")
    return {
        "noise_rates": to_numpy(noise_rates, "noise_rates"),
        "signal_rates": to_numpy(signal_rates, "signal_rates"),
    }


# --- denoise ---------------------------------------------------------------

class SpyNetwork:
    """Stands in for the U-Net: records its inputs, returns a fixed noise mask."""

    def __init__(self, noise_mask):
        self.noise_mask = noise_mask
        self.calls = []

    def __call__(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError(
                "denoising_model must be called with one list [noisy_images, noise_rates]"
            )
        self.calls.append([to_numpy(x, "network input") for x in inputs])
        return _keras().ops.convert_to_tensor(self.noise_mask)


def denoise(namespace, noisy_images, noise_rates, signal_rates, noise_mask):
    """Calls denoise with a network that always predicts `noise_mask`."""
    ops = _keras().ops
    network = SpyNetwork(noise_mask)
    out = _graded(namespace, "denoise")(
        network,
        ops.convert_to_tensor(noisy_images),
        ops.convert_to_tensor(noise_rates),
        ops.convert_to_tensor(signal_rates),
    )
    first, second = _pair(out, "denoise", "pred_images, pred_noise_masks")
    result = {"first": to_numpy(first, "denoise's first output"),
              "second": to_numpy(second, "denoise's second output"),
              "network_calls": np.array(len(network.calls))}
    if network.calls:
        result["seen_images"], result["seen_rates"] = network.calls[0]
    return result


# --- generate --------------------------------------------------------------

def spy_schedule(times, xp):
    """A made-up schedule (linear noise rate) the spy hands to `generate`.

    `xp` is keras.ops (in the probe) or numpy (in the checks).
    """
    noise_rates = 0.1 + 0.8 * times
    return noise_rates, xp.sqrt(1.0 - noise_rates * noise_rates)


def spy_prediction(noisy_images, noise_rates, signal_rates, xp):
    """Made-up, deterministic (pred_images, pred_noises) for the spy model."""
    return 1.5 * xp.tanh(noisy_images) + signal_rates, 0.5 * noisy_images - noise_rates


class _Normalizer:
    def __init__(self, mean, variance):
        self.mean, self.variance = mean, variance


class SpyDiffusionModel:
    """What `generate` may use: image_size, seed_generator, normalizer,
    denoising_model and denoise(noisy_images, noise_rates, signal_rates)."""

    def __init__(self, image_size, mean, variance):
        keras = _keras()
        self.image_size = image_size
        self.seed_generator = keras.random.SeedGenerator(1234)
        ops = keras.ops
        self.normalizer = _Normalizer(ops.convert_to_tensor(mean), ops.convert_to_tensor(variance))
        self.denoising_model = SpyNetwork(np.zeros((1, image_size, image_size, 3), "float32"))
        self.calls = []

    def denoise(self, noisy_images, noise_rates, signal_rates):
        ops = _keras().ops
        self.calls.append([to_numpy(x, "denoise input") for x in (noisy_images, noise_rates, signal_rates)])
        return spy_prediction(noisy_images, noise_rates, signal_rates, ops)


def generate(namespace, num_images, diffusion_steps, image_size, mean, variance):
    """Runs generate on a spy model, with the spy schedule as `diffusion_schedule`.

    Returns the output and, per denoising call k, the noisy images and rates
    the model was handed (arrays stacked along a first axis of length calls).
    """
    ops = _keras().ops
    model = SpyDiffusionModel(int(image_size), mean, variance)
    schedule_times = []

    def schedule(diffusion_times, *args, **kwargs):
        schedule_times.append(to_numpy(diffusion_times, "diffusion times"))
        return spy_schedule(ops.convert_to_tensor(diffusion_times, "float32"), ops)

    generate_fn = _graded(namespace, "generate")
    # `generate` looks diffusion_schedule up in its own module's globals.
    scope = getattr(generate_fn, "__globals__", namespace)
    missing = object()
    saved = scope.get("diffusion_schedule", missing)
    scope["diffusion_schedule"] = schedule
    try:
        images = generate_fn(model, int(num_images), int(diffusion_steps))
    finally:
        if saved is missing:
            del scope["diffusion_schedule"]
        else:
            scope["diffusion_schedule"] = saved
    result = {"images": to_numpy(images, "generate output"), "calls": np.array(len(model.calls))}
    for key, index in (("noisy", 0), ("noise_rates", 1), ("signal_rates", 2)):
        try:
            result[key] = np.stack([c[index] for c in model.calls]) if model.calls else np.zeros(0)
        except ValueError:
            raise TypeError(f"generate handed model.denoise {key} of changing shapes") from None
    result["schedule_times"] = _ragged(schedule_times)
    return result


def _ragged(arrays):
    """The first value of each array: times per schedule call, in call order."""
    return np.array([float(np.ravel(a)[0]) if np.size(a) else np.nan for a in arrays])


# --- slerp -----------------------------------------------------------------

def slerp(namespace, t, v1, v2):
    ops = _keras().ops
    out = _graded(namespace, "slerp")(float(t), ops.convert_to_tensor(v1), ops.convert_to_tensor(v2))
    return {"out": to_numpy(out, "slerp output")}


# --- convergence: the pieces training together ---------------------------

def _zero_kl(z_mean, z_log_var):
    return _keras().ops.zeros_like(z_mean[:, 0])


def train_vae(namespace, digits, epochs, batch_size, learning_rate):
    """The chapter's VAE with the student's Sampler and kl_loss, trained.

    Returns the per-epoch loss terms and the reconstructions (decoded from
    z_mean) of the first 512 digits.
    """
    keras = _keras()
    from genimg_kit.models import VAE, build_decoder, build_encoder

    vae = VAE(build_encoder(2), build_decoder(2), _graded(namespace, "Sampler")(),
              _graded(namespace, "kl_loss"))
    vae.compile(optimizer=keras.optimizers.Adam(float(learning_rate)))
    history = vae.fit(digits, epochs=int(epochs), batch_size=int(batch_size), shuffle=False, verbose=0)
    z_mean, _ = vae.encoder.predict(digits[:512], verbose=0)
    return {
        "loss": np.array(history.history["loss"]),
        "reconstruction_loss": np.array(history.history["reconstruction_loss"]),
        "kl_loss": np.array(history.history["kl_loss"]),
        "reconstructions": to_numpy(vae.decoder.predict(z_mean, verbose=0), "reconstructions"),
    }


def vae_gradient_flow(namespace, digits, batch_size):
    """How far each encoder head moves when only the reconstruction loss trains.

    With the KL term switched off, the reconstruction loss reaches the
    z_mean and z_log_var heads only through the Sampler: a sampler that cuts
    the gradient leaves a head exactly where it started.
    """
    keras = _keras()
    from genimg_kit.models import VAE, build_decoder, build_encoder

    encoder = build_encoder(2)
    vae = VAE(encoder, build_decoder(2), _graded(namespace, "Sampler")(), _zero_kl)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    heads = {name: encoder.get_layer(name) for name in ("z_mean", "z_log_var")}
    before = {name: np.array(layer.get_weights()[0]) for name, layer in heads.items()}
    vae.fit(digits, epochs=1, batch_size=int(batch_size), shuffle=False, verbose=0)
    return {f"{name}_change": np.array(np.abs(layer.get_weights()[0] - before[name]).max())
            for name, layer in heads.items()}


def train_diffusion(namespace, images, widths, block_depth, epochs, batch_size, learning_rate,
                    num_images, diffusion_steps):
    """A small U-Net trained with the student's schedule and denoise, then
    sampled with the student's generate, before and after training.

    Plain Adam: over a few hundred steps the chapter's weight EMA would
    still lag far behind the weights being trained.
    """
    keras = _keras()
    from genimg_kit.models import DiffusionModel

    model = DiffusionModel(images.shape[1], [int(w) for w in widths], int(block_depth),
                           _graded(namespace, "diffusion_schedule"), _graded(namespace, "denoise"),
                           _graded(namespace, "generate"), seed=0)
    model.normalizer.adapt(images)
    model.compile(optimizer=keras.optimizers.Adam(float(learning_rate)))
    before = to_numpy(model.generate(int(num_images), int(diffusion_steps)), "generate output")
    history = model.fit(images, epochs=int(epochs), batch_size=int(batch_size), shuffle=False, verbose=0)
    after = to_numpy(model.generate(int(num_images), int(diffusion_steps)), "generate output")
    return {"loss": np.array(history.history["loss"]), "untrained": before, "generated": after}


PROBES = {
    "sampler_eager": sampler_eager,
    "sampler_compiled": sampler_compiled,
    "kl_loss": kl_loss,
    "diffusion_schedule": diffusion_schedule,
    "denoise": denoise,
    "generate": generate,
    "slerp": slerp,
    "train_vae": train_vae,
    "vae_gradient_flow": vae_gradient_flow,
    "train_diffusion": train_diffusion,
}


def accelerator():
    """"gpu" when the Keras backend computes on a GPU, else "cpu"."""
    backend = _keras().backend.backend()
    if backend == "jax":
        import jax

        return "gpu" if jax.default_backend() == "gpu" else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    return "cpu"


def run_probe(namespace, probe_name, arrays):
    return PROBES[probe_name](namespace, **arrays)
