"""The environment variables graded code keeps of the grader's: the locale, the
search path, and the settings of Keras, its backends, the GPU runtime,
Matplotlib, nbgrader and this project; not a platform's tokens, keys or
anything else it holds."""

INHERITED_ENVIRONMENT = ("PATH", "LANG", "LANGUAGE", "LC_", "TZ", "TERM", "LD_LIBRARY_PATH", "KERAS_", "TF_",
                         "XLA_", "JAX_", "CUDA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "MPLBACKEND",
                         "NBGRADER_EXECUTION", "GENIMG_")


def inherited_environment(environ):
    """The variables of `environ` that graded code may see (INHERITED_ENVIRONMENT)."""
    return {name: value for name, value in environ.items() if name.startswith(INHERITED_ENVIRONMENT)}
