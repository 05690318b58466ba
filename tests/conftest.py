import os

# Nothing in the tests may download: loaders take their offline paths.
os.environ.setdefault("GENIMG_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


# The backend that runs the tests marked one_backend (the README runs the suite once per backend).
ONE_BACKEND = "tensorflow"


def pytest_collection_modifyitems(config, items):
    """Skips the one_backend tests on the other backends' passes, saying why."""
    import pytest

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == ONE_BACKEND:
        return
    skip = pytest.mark.skip(reason=f"backend-independent: runs on the {ONE_BACKEND} pass (KERAS_BACKEND={backend})")
    for item in items:
        if "one_backend" in item.keywords:
            item.add_marker(skip)
