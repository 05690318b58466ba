"""The catalogue of student bugs (mutants) and differently written correct
implementations that the check battery is measured against.

A mutant is the reference source of one module with text replacements; the
tests assert each replacement still applies, so the catalogue cannot rot
silently when the reference changes.
"""

import ast
import dataclasses
import pathlib

import genimg_ref
from genimg_kit.parts import GRADED_NAMES

REFERENCE = pathlib.Path(genimg_ref.__file__).parent
MODULE_OF_PART = {
    "sampler": "vae.py",
    "kl_loss": "vae.py",
    "diffusion_schedule": "diffusion.py",
    "denoise": "diffusion.py",
    "generate": "diffusion.py",
    "slerp": "text_to_image.py",
    "vae_convergence": "vae.py",
    "diffusion_convergence": "diffusion.py",
}

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_constant(node):
    """A top-level `NAME = <literal>` (or annotated) assignment."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(isinstance(t, ast.Name) for t in targets):
        return False
    try:
        ast.literal_eval(node.value)
    except ValueError:
        return False
    return True


def _graded_definitions(tree):
    """The top-level names to keep: the graded ones defined here, and the
    top-level functions they call, transitively."""
    definitions = {n.name: n for n in tree.body if isinstance(n, DEFINITIONS)}
    keep, todo = set(), [name for name in GRADED_NAMES if name in definitions]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(node.func.id for node in ast.walk(definitions[name])
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and isinstance(definitions.get(node.func.id), (ast.FunctionDef, ast.AsyncFunctionDef)))
    return keep


def reference_source(module):
    """The graded pieces of a reference module, as a submission would hold them.

    Kept, in the module's order and as written (comments just above
    included): its imports, its top-level constants, and the definitions of
    the graded names (genimg_kit.parts.GRADED_NAMES) with the top-level
    helper functions they call. The rest of each module (models, training)
    is skipped.
    """
    source = (REFERENCE / module).read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    keep = _graded_definitions(tree)
    pieces = []
    for node in tree.body:
        if not (isinstance(node, (ast.Import, ast.ImportFrom)) or _is_constant(node)
                or (isinstance(node, DEFINITIONS) and node.name in keep)):
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
        while start > 1 and lines[start - 2].lstrip().startswith("#"):
            start -= 1
        pieces.append("".join(lines[start - 1:node.end_lineno]))
    # Imports one after another, everything else two blank lines apart.
    text = ""
    for previous, piece in zip([None] + pieces, pieces):
        if previous is not None:
            both_imports = piece.lstrip().startswith(("import ", "from ")) and \
                previous.lstrip().startswith(("import ", "from "))
            text += "" if both_imports else "\n\n"
        text += piece if piece.endswith("\n") else piece + "\n"
    return text


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    part: str
    replacements: tuple  # ((old, new), ...)
    loses: str = ""  # the part that must lose points, when not `part` itself

    def source(self):
        source = reference_source(MODULE_OF_PART[self.part])
        for old, new in self.replacements:
            assert old in source, f"mutant {self.id}: {old!r} no longer in the reference"
            source = source.replace(old, new)
        return source


def M(id, part, *pairs):
    return Mutant(id, part, tuple(zip(pairs[::2], pairs[1::2])))


NORMAL = "keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)"
KL_BODY = "(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))"
REMIX = "next_signal_rates * pred_images + next_noise_rates * pred_noises"
DENORM = "model.normalizer.mean + pred_images * ops.sqrt(model.normalizer.variance)"

MUTANTS = [
    # Sampler
    M("variance used as std", "sampler", "ops.exp(0.5 * z_log_var)", "ops.exp(z_log_var)"),
    M("noise added, not multiplied", "sampler", "ops.exp(0.5 * z_log_var) * epsilon", "ops.exp(0.5 * z_log_var) + epsilon"),
    M("uniform noise", "sampler", NORMAL, "keras.random.uniform(ops.shape(z_mean), seed=self.seed_generator)"),
    M("literal seed", "sampler", "seed=self.seed_generator)", "seed=1337)"),
    M("hard-coded epsilon shape", "sampler", "ops.shape(z_mean)", "(128, 2)"),
    M("numpy noise", "sampler", NORMAL,
      "ops.convert_to_tensor(__import__('numpy').random.normal(size=tuple(z_mean.shape)).astype('float32'))"),
    M("log-variance taken as log-std", "sampler", "ops.exp(0.5 * z_log_var)", "ops.exp(0.25 * z_log_var)"),
    M("one noise vector shared by the batch", "sampler", NORMAL,
      "keras.random.normal(ops.shape(z_mean)[1:], seed=self.seed_generator)"),
    # issue 28: a spread a few percent off, a non-normal shape, correlated draws
    M("noise scaled by a temperature of 0.95", "sampler", "* epsilon", "* 0.95 * epsilon"),
    M("truncated normal noise", "sampler", NORMAL,
      "keras.random.truncated_normal(ops.shape(z_mean), seed=self.seed_generator)"),
    M("uniform noise with unit variance", "sampler", NORMAL,
      "keras.random.uniform(ops.shape(z_mean), -3.0 ** 0.5, 3.0 ** 0.5, seed=self.seed_generator)"),
    M("one draw per example for every latent dimension", "sampler", NORMAL,
      f"ops.ones_like(z_mean) * {NORMAL}[:, :1]"),
    M("the first example's noise mixed into every example's", "sampler", "* epsilon",
      "* (0.95 * epsilon + 0.3 * epsilon[:1])"),
    M("no noise at all", "sampler", "return z_mean + ops.exp(0.5 * z_log_var) * epsilon", "return z_mean"),
    # kl_loss
    M("KL sign flipped", "kl_loss", "-0.5 * (", "0.5 * ("),
    M("forgot exp of the log-variance", "kl_loss", "- ops.exp(z_log_var))", "- z_log_var)"),
    M("log-sigma instead of log-variance", "kl_loss", KL_BODY,
      "(1 + 2 * z_log_var - ops.square(z_mean) - ops.exp(2 * z_log_var))"),
    M("reduced over the batch too", "kl_loss", "ops.sum(per_dimension, axis=-1)", "ops.sum(per_dimension)"),
    M("averaged over latent dimensions (the chapter)", "kl_loss", "ops.sum(per_dimension, axis=-1)",
      "ops.mean(per_dimension, axis=-1)"),
    M("mean not squared", "kl_loss", "ops.square(z_mean)", "z_mean"),
    M("summed over the batch axis", "kl_loss", "ops.sum(per_dimension, axis=-1)", "ops.sum(per_dimension, axis=0)"),
    M("missing the 1", "kl_loss", KL_BODY, "(z_log_var - ops.square(z_mean) - ops.exp(z_log_var))"),
    # diffusion_schedule
    M("schedule outputs swapped", "diffusion_schedule", "return noise_rates, signal_rates", "return signal_rates, noise_rates"),
    M("time reversed", "diffusion_schedule", "diffusion_times * (end_angle", "(1.0 - diffusion_times) * (end_angle"),
    M("linear signal rates", "diffusion_schedule",
      "signal_rates = ops.cos(diffusion_angles)",
      "signal_rates = max_signal_rate - diffusion_times * (max_signal_rate - min_signal_rate)",
      "noise_rates = ops.sin(diffusion_angles)", "noise_rates = ops.sqrt(1.0 - ops.square(signal_rates))"),
    M("bounds ignored", "diffusion_schedule", "ops.arccos(max_signal_rate)", "ops.arccos(0.95)",
      "ops.arccos(min_signal_rate)", "ops.arccos(0.02)"),
    M("bounds swapped", "diffusion_schedule", "start_angle = ops.arccos(max_signal_rate)",
      "start_angle = ops.arccos(min_signal_rate)", "end_angle = ops.arccos(min_signal_rate)",
      "end_angle = ops.arccos(max_signal_rate)"),
    M("noise = 1 - signal", "diffusion_schedule", "noise_rates = ops.sin(diffusion_angles)", "noise_rates = 1.0 - ops.cos(diffusion_angles)"),
    # issue 28: the bounds by position
    M("schedule bounds declared max first", "diffusion_schedule",
      "min_signal_rate=0.02, max_signal_rate=0.95)", "max_signal_rate=0.95, min_signal_rate=0.02)"),
    M("schedule bounds keyword-only", "diffusion_schedule",
      "diffusion_schedule(diffusion_times, min_signal_rate", "diffusion_schedule(diffusion_times, *, min_signal_rate"),
    # denoise
    M("multiplies by the signal rate", "denoise", ") / signal_rates", ") * signal_rates"),
    M("rates swapped", "denoise", "(noisy_images - noise_rates * pred_noise_masks) / signal_rates",
      "(noisy_images - signal_rates * pred_noise_masks) / noise_rates"),
    M("conditioned on the signal rates", "denoise", "denoising_model([noisy_images, noise_rates])",
      "denoising_model([noisy_images, signal_rates])"),
    M("denoise outputs swapped", "denoise", "return pred_images, pred_noise_masks", "return pred_noise_masks, pred_images"),
    M("adds the noise back", "denoise", "(noisy_images - noise_rates", "(noisy_images + noise_rates"),
    # issue 28: the noisiest steps
    M("signal rates floored at 0.1", "denoise", ") / signal_rates", ") / ops.maximum(signal_rates, 0.1)"),
    M("a small constant added to the divisor", "denoise", ") / signal_rates", ") / (signal_rates + 0.01)"),
    # generate
    M("starts from the clean end", "generate", "ops.ones((num_images, 1, 1, 1)) - step * step_size",
      "ops.zeros((num_images, 1, 1, 1)) + step * step_size"),
    M("remixes with the current rates", "generate", REMIX, "signal_rates * pred_images + noise_rates * pred_noises"),
    M("returns the noisy images", "generate", DENORM,
      "model.normalizer.mean + next_noisy_images * ops.sqrt(model.normalizer.variance)"),
    M("skips denormalisation", "generate", DENORM, "pred_images"),
    M("one-step loop", "generate", "for step in range(diffusion_steps):", "for step in range(1):"),
    M("no clipping", "generate", "return ops.clip(images, 0.0, 255.0)", "return images"),
    M("variance used as std when denormalising", "generate", "ops.sqrt(model.normalizer.variance)", "model.normalizer.variance"),
    M("remix weights swapped", "generate", REMIX, "next_noise_rates * pred_images + next_signal_rates * pred_noises"),
    M("one step too many", "generate", "for step in range(diffusion_steps):", "for step in range(diffusion_steps + 1):"),
    # slerp
    M("slerp as lerp", "slerp", "    theta_0 = ops.arccos(dot)\n", "    return (1.0 - t) * v1 + t * v2\n    theta_0 = ops.arccos(dot)\n"),
    M("slerp as nlerp", "slerp", "    theta_0 = ops.arccos(dot)\n",
      "    lerp = (1.0 - t) * v1 + t * v2\n"
      "    return lerp / ops.linalg.norm(ops.ravel(lerp)) * ((1.0 - t) * v1_norm + t * v2_norm)\n"
      "    theta_0 = ops.arccos(dot)\n"),
    M("NaN on parallel inputs (the chapter)", "slerp", "if float(ops.abs(dot)) > PARALLEL_DOT:", "if False:"),
    M("reversed direction", "slerp", "return s0 * v1 + s1 * v2", "return s1 * v1 + s0 * v2"),
    M("float64 out", "slerp", "return s0 * v1 + s1 * v2",
      "return __import__('numpy').asarray(s0 * v1 + s1 * v2, dtype='float64')"),
    M("inputs' dtype kept (float16 in, float16 out)", "slerp", 'v1 = ops.cast(v1, "float32")\n    v2 = ops.cast(v2, "float32")',
      "v1 = ops.convert_to_tensor(v1)\n    v2 = ops.convert_to_tensor(v2)"),
    M("angle from unnormalised vectors", "slerp", "ops.sum(v1 * v2) / (v1_norm * v2_norm)", "ops.sum(v1 * v2)"),
    M("angle not linear in t", "slerp", "theta_t = theta_0 * t", "theta_t = theta_0 * t * t"),
]


# The misconception (genimg_kit.checks.diagnosis) each of these mutants' numbers must be
# named as: the catalogue's label. A mutant not listed may get any diagnosis or none.
DIAGNOSED = {
    "variance used as std": "variance used as the standard deviation",
    "noise added, not multiplied": "noise added to the std, not multiplied",
    "uniform noise": "uniform noise",
    "log-variance taken as log-std": "log-variance taken as log-std",
    "no noise at all": "no noise drawn",
    "noise scaled by a temperature of 0.95": "noise scaled",
    "truncated normal noise": "truncated normal noise",
    "uniform noise with unit variance": "uniform noise",
    "one draw per example for every latent dimension": "one draw per example for every latent dimension",
    "KL sign flipped": "KL with its sign flipped",
    "forgot exp of the log-variance": "log-variance used without exp",
    "log-sigma instead of log-variance": "log-variance taken as log-sigma",
    "reduced over the batch too": "KL summed over the batch too",
    "averaged over latent dimensions (the chapter)": "KL averaged over the latent dimensions",
    "mean not squared": "mean not squared",
    "summed over the batch axis": "KL reduced over the batch axis",
    "missing the 1": "the 1 missing from the KL",
    "schedule outputs swapped": "schedule's rates returned in the wrong order",
    "time reversed": "schedule running backwards in time",
    "linear signal rates": "signal rate interpolated linearly",
    "bounds ignored": "schedule's bounds ignored",
    "bounds swapped": "schedule running backwards in time",
    "noise = 1 - signal": "noise rate taken as 1 - signal rate",
    "multiplies by the signal rate": "denoise multiplies by the signal rate",
    "rates swapped": "denoise's rates swapped",
    "conditioned on the signal rates": "network conditioned on the signal rates",
    "denoise outputs swapped": "denoise's outputs returned in the wrong order",
    "adds the noise back": "denoise adds the noise back",
    "signal rates floored at 0.1": "denoise's divisor floored",
    "starts from the clean end": "generation starting from the clean end",
    "remixes with the current rates": "remix with the current step's rates",
    "returns the noisy images": "the remixed noisy images returned",
    "skips denormalisation": "denormalisation skipped",
    "one-step loop": "a single denoising step",
    "no clipping": "images not clipped",
    "variance used as std when denormalising": "variance used as the std when denormalising",
    "remix weights swapped": "remix weights swapped",
    "one step too many": "one denoising step too many",
    "slerp as lerp": "slerp written as linear interpolation",
    "slerp as nlerp": "slerp written as normalised linear interpolation",
    "reversed direction": "slerp running from v2 to v1",
    "angle from unnormalised vectors": "slerp's angle from unnormalised vectors",
    "angle not linear in t": "slerp's angle not linear in t",
}

# Right values, wrong gradients: each passes its part's value checks and must
# lose points to its gradient check; `loses` names a convergence part that
# catches it too (training showed these before the gradients were checked).
GRADIENT_MUTANTS = [
    dataclasses.replace(M("Sampler cuts the gradient to z_log_var", "sampler",
                          "ops.exp(0.5 * z_log_var) * epsilon",
                          "ops.exp(0.5 * ops.stop_gradient(z_log_var)) * epsilon"), loses="vae_convergence"),
    dataclasses.replace(M("Sampler detaches the whole draw", "sampler",
                          "return z_mean + ops.exp(0.5 * z_log_var) * epsilon",
                          "return ops.stop_gradient(z_mean + ops.exp(0.5 * z_log_var) * epsilon)"),
                        loses="vae_convergence"),
    dataclasses.replace(M("schedule written with numpy (cannot be compiled)", "diffusion_schedule",
                          "signal_rates = ops.cos(diffusion_angles)",
                          "signal_rates = __import__('numpy').cos(diffusion_angles)"),
                        loses="diffusion_convergence"),
    dataclasses.replace(M("denoise detaches the network", "denoise",
                          "pred_noise_masks = denoising_model([noisy_images, noise_rates])",
                          "pred_noise_masks = ops.stop_gradient(denoising_model([noisy_images, noise_rates]))"),
                        loses="diffusion_convergence"),
    M("KL with the log-variance's exp detached", "kl_loss",
      "- ops.exp(z_log_var))", "- ops.exp(ops.stop_gradient(z_log_var)))"),
    M("schedule angles through ops.stop_gradient", "diffusion_schedule",
      "diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)",
      "diffusion_angles = ops.stop_gradient(start_angle + diffusion_times * (end_angle - start_angle))"),
]


CORRECT_VARIANTS = [  # (part, title, source)
    ("sampler", "sqrt of the variance, seed from shape of z_log_var", '''
import keras
from keras import ops

class Sampler(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, z_mean, z_log_var):
        std = ops.sqrt(ops.exp(z_log_var))
        eps = keras.random.normal(shape=ops.shape(z_log_var), mean=0.0, stddev=1.0, seed=self.seed_generator)
        return eps * std + z_mean
'''),
    ("sampler", "batch and dim read separately", '''
import keras

class Sampler(keras.layers.Layer):
    def __init__(self, seed=7, **kwargs):
        super().__init__(**kwargs)
        self.seeds = keras.random.SeedGenerator(seed)

    def call(self, z_mean, z_log_var):
        batch = keras.ops.shape(z_mean)[0]
        dim = keras.ops.shape(z_mean)[1]
        epsilon = keras.random.normal((batch, dim), seed=self.seeds)
        return z_mean + keras.ops.exp(z_log_var / 2) * epsilon
'''),
    ("kl_loss", "rearranged terms, axis=1", '''
from keras import ops

def kl_loss(z_mean, z_log_var):
    return 0.5 * ops.sum(ops.exp(z_log_var) + z_mean ** 2 - 1.0 - z_log_var, axis=1)
'''),
    ("kl_loss", "mean times latent size", '''
import keras

def kl_loss(mu, log_var):
    terms = 1 + log_var - keras.ops.square(mu) - keras.ops.exp(log_var)
    return -0.5 * keras.ops.mean(terms, axis=-1) * keras.ops.cast(keras.ops.shape(mu)[-1], "float32")
'''),
    ("diffusion_schedule", "angles interpolated between endpoints, math.acos", '''
import math
from keras import ops

def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    first, last = math.acos(max_signal_rate), math.acos(min_signal_rate)
    angles = (1.0 - diffusion_times) * first + diffusion_times * last
    return ops.sin(angles), ops.cos(angles)
'''),
    ("denoise", "training=False, multiply by reciprocal", '''
def denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    pred_noise = denoising_model([noisy_images, noise_rates], training=False)
    pred_images = (noisy_images - pred_noise * noise_rates) * (1.0 / signal_rates)
    return pred_images, pred_noise
'''),
    ("generate", "times from ops.full, explicit variables", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    size = model.image_size
    x = keras.random.normal((num_images, size, size, 3), seed=model.seed_generator)
    for i in range(diffusion_steps):
        t = 1.0 - i / diffusion_steps
        noise_rates, signal_rates = diffusion_schedule(ops.full((num_images, 1, 1, 1), t))
        images, noises = model.denoise(x, noise_rates, signal_rates)
        next_noise_rates, next_signal_rates = diffusion_schedule(ops.full((num_images, 1, 1, 1), t - 1.0 / diffusion_steps))
        x = next_signal_rates * images + next_noise_rates * noises
    std = ops.sqrt(model.normalizer.variance)
    return ops.clip(images * std + model.normalizer.mean, 0, 255)
'''),
    ("generate", "while loop with scalar times", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    shape = (num_images, model.image_size, model.image_size, 3)
    noisy = keras.random.normal(shape, seed=model.seed_generator)
    step, t = 0, 1.0
    while step < diffusion_steps:
        nr, sr = diffusion_schedule(ops.ones((num_images, 1, 1, 1)) * t)
        pred_images, pred_noises = model.denoise(noisy, nr, sr)
        t = t - 1.0 / diffusion_steps
        nnr, nsr = diffusion_schedule(ops.ones((num_images, 1, 1, 1)) * t)
        noisy = nsr * pred_images + nnr * pred_noises
        step += 1
    out = model.normalizer.mean + pred_images * model.normalizer.variance ** 0.5
    return ops.minimum(ops.maximum(out, 0.0), 255.0)
'''),
    # issue 12: other routes
    ("generate", "calls model.denoising_model and solves for the images itself", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    size = model.image_size
    noisy = keras.random.normal((num_images, size, size, 3), seed=model.seed_generator)
    step_size = 1.0 / diffusion_steps
    for step in range(diffusion_steps):
        t = ops.ones((num_images, 1, 1, 1)) * (1.0 - step * step_size)
        noise_rates, signal_rates = diffusion_schedule(t)
        pred_noises = model.denoising_model([noisy, noise_rates], training=False)
        pred_images = (noisy - noise_rates * pred_noises) / signal_rates
        next_noise_rates, next_signal_rates = diffusion_schedule(t - step_size)
        noisy = next_signal_rates * pred_images + next_noise_rates * pred_noises
    images = pred_images * ops.sqrt(model.normalizer.variance) + model.normalizer.mean
    return ops.clip(images, 0.0, 255.0)
'''),
    ("generate", "global denoise, remix at the top of the next step", '''
import keras
import numpy as np
from keras import ops

def generate(model, num_images, diffusion_steps):
    size = model.image_size
    noisy = keras.random.normal((num_images, size, size, 3), seed=model.seed_generator)
    pred_images = pred_noises = None
    for t in np.linspace(1.0, 0.0, diffusion_steps + 1, dtype="float32")[:-1]:
        noise_rates, signal_rates = diffusion_schedule(ops.full((num_images, 1, 1, 1), t))
        if pred_images is not None:
            noisy = signal_rates * pred_images + noise_rates * pred_noises
        pred_images, pred_noises = denoise(model.denoising_model, noisy, noise_rates, signal_rates)
    mean, variance = model.normalizer.mean, model.normalizer.variance
    return ops.clip(mean + pred_images * ops.sqrt(variance), 0.0, 255.0)
'''),
    ("generate", "every step's rates from one schedule call", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    size, batch = model.image_size, (num_images, 1, 1, 1)
    steps = ops.arange(diffusion_steps + 1, dtype="float32")
    all_noise_rates, all_signal_rates = diffusion_schedule(ops.reshape(1.0 - steps / diffusion_steps, (-1, 1, 1, 1, 1)))
    x = keras.random.normal((num_images, size, size, 3), seed=model.seed_generator)
    for k in range(diffusion_steps):
        nr, sr = ops.broadcast_to(all_noise_rates[k], batch), ops.broadcast_to(all_signal_rates[k], batch)
        pred_images, pred_noises = model.denoise(x, nr, sr)
        x = all_signal_rates[k + 1] * pred_images + all_noise_rates[k + 1] * pred_noises
    return ops.clip(model.normalizer.mean + pred_images * model.normalizer.variance ** 0.5, 0.0, 255.0)
'''),
    # issue 28: a compiled loop (traced on JAX) and a loop counting down
    ("generate", "keras.ops.fori_loop over (noisy images, predicted images)", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    size = model.image_size
    noisy = keras.random.normal((num_images, size, size, 3), seed=model.seed_generator)
    step_size = 1.0 / diffusion_steps

    def step(k, state):
        noisy_images, _ = state
        times = ops.ones((num_images, 1, 1, 1)) - ops.cast(k, "float32") * step_size
        noise_rates, signal_rates = diffusion_schedule(times)
        pred_images, pred_noises = model.denoise(noisy_images, noise_rates, signal_rates)
        next_noise_rates, next_signal_rates = diffusion_schedule(times - step_size)
        return next_signal_rates * pred_images + next_noise_rates * pred_noises, pred_images

    _, pred_images = ops.fori_loop(0, diffusion_steps, step, (noisy, ops.zeros_like(noisy)))
    images = model.normalizer.mean + pred_images * ops.sqrt(model.normalizer.variance)
    return ops.clip(images, 0.0, 255.0)
'''),
    ("generate", "a loop counting the remaining steps down", '''
import keras
from keras import ops

def generate(model, num_images, diffusion_steps):
    shape = (num_images, model.image_size, model.image_size, 3)
    noisy = keras.random.normal(shape, seed=model.seed_generator)
    for remaining in range(diffusion_steps, 0, -1):
        t = ops.full((num_images, 1, 1, 1), remaining / diffusion_steps)
        noise_rates, signal_rates = diffusion_schedule(t)
        pred_images, pred_noises = model.denoise(noisy, noise_rates, signal_rates)
        next_noise_rates, next_signal_rates = diffusion_schedule(t - 1.0 / diffusion_steps)
        noisy = next_signal_rates * pred_images + next_noise_rates * pred_noises
    return ops.clip(model.normalizer.mean + pred_images * ops.sqrt(model.normalizer.variance), 0.0, 255.0)
'''),
    # issue 28: right pieces written otherwise
    ("sampler", "Box-Muller noise from two uniform draws", '''
import math
import keras
from keras import ops

class Sampler(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(11)

    def call(self, z_mean, z_log_var):
        u1 = keras.random.uniform(ops.shape(z_mean), minval=1e-7, maxval=1.0, seed=self.seed_generator)
        u2 = keras.random.uniform(ops.shape(z_mean), seed=self.seed_generator)
        eps = ops.sqrt(-2.0 * ops.log(u1)) * ops.cos(2.0 * math.pi * u2)
        return z_mean + ops.exp(0.5 * z_log_var) * eps
'''),
    ("kl_loss", "trace, squared norm and log-determinant of diagonal Gaussians", '''
from keras import ops

def kl_loss(z_mean, z_log_var):
    trace = ops.sum(ops.exp(z_log_var), axis=-1)
    squared_norm = ops.einsum("bi,bi->b", z_mean, z_mean)
    log_det = ops.sum(z_log_var, axis=-1)
    k = ops.cast(ops.shape(z_mean)[-1], z_mean.dtype)
    return 0.5 * (trace + squared_norm - k - log_det)
'''),
    ("diffusion_schedule", "rates by angle addition from the start angle", '''
import math
from keras import ops

def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    start = math.acos(max_signal_rate)
    step = diffusion_times * (math.acos(min_signal_rate) - start)
    cos_start, sin_start = math.cos(start), math.sin(start)
    signal_rates = cos_start * ops.cos(step) - sin_start * ops.sin(step)
    noise_rates = sin_start * ops.cos(step) + cos_start * ops.sin(step)
    return noise_rates, signal_rates
'''),
    ("denoise", "the image solved in float64", '''
from keras import ops

def denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    pred_noise_masks = denoising_model([noisy_images, noise_rates])
    wide = [ops.cast(x, "float64") for x in (noisy_images, noise_rates, pred_noise_masks, signal_rates)]
    pred_images = ops.cast((wide[0] - wide[1] * wide[2]) / wide[3], "float32")
    return pred_images, pred_noise_masks
'''),
    ("denoise", "ops.divide and ops.subtract", '''
from keras import ops

def denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    pred_noise_masks = denoising_model([noisy_images, noise_rates])
    pred_images = ops.divide(ops.subtract(noisy_images, ops.multiply(noise_rates, pred_noise_masks)), signal_rates)
    return pred_images, pred_noise_masks
'''),
    ("denoise", "keyword call, noisy images scaled first", '''
def denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    pred_noise_masks = denoising_model(inputs=[noisy_images, noise_rates], training=False)
    pred_images = noisy_images / signal_rates - pred_noise_masks * (noise_rates / signal_rates)
    return pred_images, pred_noise_masks
'''),
    ("sampler", "explicit mean and stddev, seed generator made in build", '''
import keras
from keras import ops

class Sampler(keras.layers.Layer):
    def build(self, z_mean_shape, z_log_var_shape):
        self.seed_generator = keras.random.SeedGenerator(42)

    def call(self, z_mean, z_log_var):
        eps = keras.random.normal(ops.shape(z_mean), mean=0.0, stddev=1.0, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps
'''),
    ("sampler", "ops.add, ops.multiply and sqrt of exp", '''
import keras
from keras import ops

class Sampler(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(2024)

    def call(self, z_mean, z_log_var):
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return ops.add(z_mean, ops.multiply(ops.sqrt(ops.exp(z_log_var)), epsilon))
'''),
    ("slerp", "numpy with a sin(theta) threshold", '''
import numpy as np
from keras import ops

def slerp(t, v1, v2):
    a = np.asarray(ops.convert_to_numpy(v1), dtype=np.float64)
    b = np.asarray(ops.convert_to_numpy(v2), dtype=np.float64)
    cos = np.clip(np.dot(a.ravel(), b.ravel()) / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)
'''),
    ("slerp", "normalised directions and math", '''
import math
from keras import ops

def slerp(t, v1, v2):
    v1 = ops.convert_to_tensor(v1, "float32")
    v2 = ops.convert_to_tensor(v2, "float32")
    u1 = v1 / ops.norm(ops.reshape(v1, (-1,)))
    u2 = v2 / ops.norm(ops.reshape(v2, (-1,)))
    cos = min(max(float(ops.sum(u1 * u2)), -1.0), 1.0)
    if cos > 0.9999:
        return v1 + t * (v2 - v1)
    theta = math.acos(cos)
    return (math.sin((1 - t) * theta) * v1 + math.sin(t * theta) * v2) / math.sin(theta)
'''),
]


def namespace_of(source):
    """A submission's namespace: `source` run in this process, Keras seeded first (as a self-check runs it)."""
    import keras

    keras.utils.set_random_seed(0)
    namespace = {"__name__": "submission"}
    exec(compile(source, "<submission>", "exec"), namespace)
    return namespace
