"""The variational autoencoder of chapter 17, section "Variational autoencoders".

The encoder maps an image to the parameters of a Gaussian in latent space,
`z_mean` and `z_log_var`; `Sampler` draws a latent point from it with the
reparameterisation trick (so gradients flow to both heads), and `kl_loss`
pulls that Gaussian towards N(0, I) so the latent space stays smooth.
"""

import keras
from keras import ops

from genimg_kit.models import VAE, build_decoder, build_encoder


class Sampler(keras.layers.Layer):
    """Draws z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, I).

    `z_log_var` is the log of the *variance*, so the standard deviation is
    exp(0.5 * z_log_var). The noise comes from `keras.random` with a
    `SeedGenerator`, which advances its state on every call, eager or compiled:
    a literal integer seed would freeze the noise inside a compiled train step.
    """

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z_mean, z_log_var):
        # The shape is read at call time so any (and an unknown) batch size works.
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def kl_loss(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per example, shape (batch,).

    Summed over the latent dimensions, as in keras-io's vae.py: the KL of a
    diagonal Gaussian is the sum of the per-dimension KLs. (The chapter's code
    averages them, which silently weights the term by 1 / latent_dim.)
    """
    per_dimension = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
    return ops.sum(per_dimension, axis=-1)


# ---------------------------------------------------------------------------
# Reference assembly (not graded): the kit's VAE wired to the pieces above.
# ---------------------------------------------------------------------------


def build_vae(latent_dim=2):
    """The chapter's VAE: kit encoder and decoder, this module's Sampler and kl_loss."""
    return VAE(build_encoder(latent_dim), build_decoder(latent_dim), Sampler(), kl_loss)


def train_vae(digits, epochs, batch_size=128, latent_dim=2, learning_rate=1e-3, verbose="auto"):
    """Trains a fresh VAE on `digits` ((N, 28, 28, 1) in [0, 1]) as the chapter does.

    Adam, by default with its default learning rate (the chapter's); no
    targets (the digits are their own targets). Returns (vae, history); the history logs "loss",
    "reconstruction_loss" and "kl_loss" per epoch.
    """
    vae = build_vae(latent_dim)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = vae.fit(digits, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return vae, history
