import os

# Nothing in the tests may download: loaders take their offline paths.
os.environ.setdefault("GENIMG_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
