"""Probes of the convergence parts: the chapter's models trained with the submission's pieces."""

import numpy as np

from genimg_kit import probes


def _zero_kl(z_mean, z_log_var):
    return probes.keras_module().ops.zeros_like(z_mean[:, 0])


def train_vae(namespace, digits, filters, epochs, batch_size, learning_rate):
    """The chapter's VAE (convolutions `filters` wide) with the student's
    Sampler and kl_loss, trained.

    Returns the per-epoch loss terms and the reconstructions (decoded from
    z_mean) of the first 512 digits.
    """
    keras = probes.keras_module()
    from genimg_kit.models import VAE, build_decoder, build_encoder

    vae = VAE(build_encoder(2, filters), build_decoder(2, filters), probes.graded(namespace, "Sampler")(),
              probes.graded(namespace, "kl_loss"))
    vae.compile(optimizer=keras.optimizers.Adam(float(learning_rate)))
    probes.release_memory()  # what building compiled (JAX: each initializer), never needed again
    history = vae.fit(digits, epochs=int(epochs), batch_size=int(batch_size), shuffle=False, verbose=0)
    z_mean, _ = vae.encoder.predict(digits[:512], verbose=0)
    return {
        "loss": np.array(history.history["loss"]),
        "reconstruction_loss": np.array(history.history["reconstruction_loss"]),
        "kl_loss": np.array(history.history["kl_loss"]),
        "reconstructions": probes.to_numpy(vae.decoder.predict(z_mean, verbose=0), "reconstructions"),
    }


def vae_gradient_flow(namespace, digits, filters, batch_size):
    """How far each encoder head moves when only the reconstruction loss trains.

    With the KL term switched off, the reconstruction loss reaches the
    z_mean and z_log_var heads only through the Sampler: a sampler that cuts
    the gradient leaves a head exactly where it started.
    """
    keras = probes.keras_module()
    from genimg_kit.models import VAE, build_decoder, build_encoder

    encoder = build_encoder(2, filters)
    vae = VAE(encoder, build_decoder(2, filters), probes.graded(namespace, "Sampler")(), _zero_kl)
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
    keras = probes.keras_module()
    from genimg_kit.models import DiffusionModel

    model = DiffusionModel(images.shape[1], [int(w) for w in widths], int(block_depth),
                           probes.graded(namespace, "diffusion_schedule"), probes.graded(namespace, "denoise"),
                           probes.graded(namespace, "generate"), seed=0)
    model.normalizer.adapt(images)
    model.compile(optimizer=keras.optimizers.Adam(float(learning_rate)))
    probes.release_memory()  # what building compiled (JAX: each initializer), never needed again
    before = probes.to_numpy(model.generate(int(num_images), int(diffusion_steps)), "generate output")
    history = model.fit(images, epochs=int(epochs), batch_size=int(batch_size), shuffle=False, verbose=0)
    after = probes.to_numpy(model.generate(int(num_images), int(diffusion_steps)), "generate output")
    return {"loss": np.array(history.history["loss"]), "untrained": before, "generated": after}


PROBES = (train_vae, vae_gradient_flow, train_diffusion)
