"""What graded code may read: every folder Python and the libraries need, but the
blocked packages (the answer key, the grader)."""

import importlib.util
import os
import stat
import sys


def readable_paths(blocked, packages=()):
    """(readable, listable): what the submission may read, and the folders whose names
    alone it may list. Readable: the system folders, the Python installation, every
    folder of sys.path and every imported package's folder, less the folders of the
    `blocked` top-level packages (the answer key, the grader): a folder that holds one is
    opened entry by entry, down to it (Landlock only allows, so a hole is made by
    omission). Such a folder (site-packages, say) stays listable, and everything below
    it: without its listing, importlib.metadata finds no distribution, so no entry point
    (Matplotlib's inline backend, Keras-Hub's presets) and no version. A blocked
    package's file names are listable too, its files' contents not: its distribution's
    RECORD names them anyway.
    `packages`: top-level packages not imported yet whose folders must be readable (an
    editable install's are on no sys.path entry)."""
    blocked_dirs = {os.path.realpath(folder) for name in blocked for folder in package_folders(name)}
    paths = [*[folder for name in packages for folder in package_folders(name)],
             "/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys", "/dev",
             sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *[entry for entry in sys.path if os.path.isdir(entry)]]
    for module in list(sys.modules.values()):  # packages found by path hooks (editable installs)
        paths += [f for f in getattr(module, "__path__", None) or () if isinstance(f, str)]
    readable, listable = [], []
    for path in dict.fromkeys(os.path.realpath(p) for p in paths if os.path.exists(p)):
        _without(path, blocked_dirs, readable, listable)
    return list(dict.fromkeys(readable)), list(dict.fromkeys(listable))


def package_folders(name):
    """The folders of top-level package `name`, found without importing it ([] if absent)."""
    spec = importlib.util.find_spec(name)
    return list(spec.submodule_search_locations or []) if spec else []


def _without(path, blocked_dirs, readable, listable):
    """Adds `path` to `readable`, or, when a blocked folder is in or below it, adds it to
    `listable` and each of its entries but that folder to `readable`, recursively."""
    if any(path == b or path.startswith(b + os.sep) for b in blocked_dirs):
        return
    if not any(b.startswith(path.rstrip(os.sep) + os.sep) for b in blocked_dirs):
        readable.append(path)
        return
    listable.append(path)
    # Each entry by its real path: a rule on a link (a venv's lib64 -> lib) opens its target.
    for child in sorted(os.listdir(path)):
        _without(os.path.realpath(os.path.join(path, child)), blocked_dirs, readable, listable)


def python_readable_by_others(paths):
    """Whether a user other than the owner can reach and read every one of `paths`
    (the Python installation under /root, say, is not: then no uid drop)."""
    for path in paths:
        folder = os.path.realpath(path)
        while True:
            try:
                mode = os.stat(folder).st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH or (folder == os.path.realpath(path) and not mode & stat.S_IROTH):
                return False
            if folder == os.sep:
                break
            folder = os.path.dirname(folder)
    return True
