"""What every test shares: no environment of its own, and no network but loopback.

The tests run in the environment pytest was started in, as a student's or an
instructor's shell would be: no variable is set here for all of them
(`MPLBACKEND`, `KERAS_HOME`, `GENIMG_*`, ...). A test that needs one sets it
itself, because it is what the test is about (a download's URL, the offline
switch, a budget).

Nothing in the tests may download: a connection to anything but this machine
fails at once (loopback stays open for the archives and listeners the tests
serve). The kit's loaders then take their offline paths and say so, as they
do on a laptop without a network.
"""

import ipaddress
import os
import socket

import pytest

# The backend that runs the tests marked one_backend (the README runs the suite once per backend).
ONE_BACKEND = "tensorflow"

NO_DOWNLOADS = "the tests never download: only this machine (loopback) may be reached"


def _loopback(host):
    """Whether an IPv4/IPv6 host (an address, or a name connect would resolve) is this machine."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host in ("localhost", "")  # "": connect's name for this machine


def _guarded(method):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise OSError(f"{NO_DOWNLOADS} (asked for {address!r})")
        return method(self, address)

    return connect


socket.socket.connect = _guarded(socket.socket.connect)
socket.socket.connect_ex = _guarded(socket.socket.connect_ex)


def pytest_collection_modifyitems(config, items):
    """Skips the one_backend tests on the other backends' passes, saying why."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == ONE_BACKEND:
        return
    skip = pytest.mark.skip(reason=f"backend-independent: runs on the {ONE_BACKEND} pass (KERAS_BACKEND={backend})")
    for item in items:
        if "one_backend" in item.keywords:
            item.add_marker(skip)
