"""The files of a submission, as bytes: what the grader reads, and how.

Every byte is the submission's, read by the grader's own process: so the
reader follows no link (of the named path or inside a folder), reads only
regular files and at most `Limits.file_bytes` of each (a FIFO, a device or a
huge file is a note, not a hang), and at most `Limits.submission_bytes` in
all. What it cannot read is a note saying why. `autograder.submission`
parses what it returns; reconcile and the Dask executor read through it too.
"""

import errno
import os
import pathlib
import stat

from autograder.limits import Limits
from autograder.record import Note

SUFFIXES = (".py", ".ipynb")


class UnreadableSubmission(Exception):
    pass


class _TooLarge(Exception):
    pass


def _read_regular(name, parent_fd, limit):
    """The bytes of the regular file `name` in the folder `parent_fd`, not through a link;
    raises _TooLarge past `limit` bytes, ValueError for anything but a regular file."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise _TooLarge()
        return b"".join(chunks)
    finally:
        os.close(fd)


def _walk(folder_fd, prefix=()):
    """(relative name, folder fd, entry name, is a link) of each entry the grader may
    read below an open folder, sorted, depth first, without following links: .py and
    .ipynb files, and every link (to be refused); hidden entries and `__x` are left out."""
    with os.scandir(folder_fd) as entries:
        listed = sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in entries)
    for name, is_dir, is_link in listed:
        relative = "/".join((*prefix, name))
        if name.startswith((".", "__")):
            continue
        if is_dir:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
            try:
                yield from _walk(fd, (*prefix, name))
            finally:
                os.close(fd)
        elif is_link or pathlib.PurePath(name).suffix in SUFFIXES:
            yield relative, folder_fd, name, is_link


def _read_all(entries, limits):
    files, notes, total = [], [], 0
    for relative, folder_fd, name, is_link in entries:
        left = limits.submission_bytes - total
        try:
            if is_link:
                raise OSError(errno.ELOOP, "a link")
            data = _read_regular(name, folder_fd, min(limits.file_bytes, left))
        except _TooLarge:
            reason = (f"more than the {limits.file_bytes} bytes a file may have" if left > limits.file_bytes
                      else f"the files before it used up the {limits.submission_bytes} bytes the grader "
                           "reads of a submission")
            notes.append(Note("load_error", f"{relative}: {reason}; not read"))
            continue
        except OSError as error:
            reason = ("a symbolic link: the grader reads only files submitted, never through a link"
                      if error.errno == errno.ELOOP else f"cannot be read ({error.strerror})")
            notes.append(Note("load_error", f"{relative}: {reason}; not read"))
            continue
        except ValueError as error:
            notes.append(Note("load_error", f"{relative}: {error}; not read"))
            continue
        total += len(data)
        files.append((relative, data))
    return files, notes


def submission_files(path, limits=None):
    """The files of a submission the grader reads: ([(relative name, bytes)], [Note]).

    A .py or .ipynb file, or a folder of them (hidden ones and `__x` left out),
    read without following any link; what is not read is a note. Raises
    UnreadableSubmission when the named path is missing, a link, or neither,
    or when not one of its files can be read.
    """
    limits = limits or Limits()
    path = pathlib.Path(path)
    if path.is_symlink():
        raise UnreadableSubmission(f"{path.name} is a symbolic link: the grader reads only files "
                                   "submitted, never through a link")
    if not path.exists():
        raise UnreadableSubmission(f"{path} does not exist")
    if not path.is_dir() and path.suffix not in SUFFIXES:
        raise UnreadableSubmission(f"{path} is not a .py file, an .ipynb notebook or a folder of them")
    folder = path if path.is_dir() else path.parent
    root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        entries = _walk(root) if path.is_dir() else [(path.name, root, path.name, False)]
        files, notes = _read_all(entries, limits)
    finally:
        os.close(root)
    if not files:
        raise UnreadableSubmission("; ".join(n.text for n in notes) or f"{path} holds no .py or .ipynb file")
    return files, notes
