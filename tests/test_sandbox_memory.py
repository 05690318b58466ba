"""What the sandbox's watchdog counts as a submission's memory: its own pages
(PSS), read cheaply while the kernel's RSS counters keep it far from the cap."""

import os
import signal

import psutil
import pytest

from autograder.isolation import sandbox

MB = 2**20


@pytest.fixture
def forked_copy():
    """This process holding 200 MB of its own, and a forked copy sharing them."""
    held = bytearray(b"\x01") * (200 * MB)  # written, so the pages exist
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    try:
        yield [psutil.Process(), psutil.Process(pid)], held
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_a_forked_copy_of_its_pages_is_counted_once(forked_copy):
    tree, _ = forked_copy
    resident = sum(sandbox._resident_memory(p) for p in tree)
    private = sum(sandbox._private_memory(p) for p in tree)
    assert resident >= 400 * MB and private < resident - 150 * MB, (resident, private)
    assert not sandbox._over(tree, resident - 100 * MB)  # what RSS alone would stop
    assert sandbox._over(tree, private - 100 * MB)


def test_the_kernels_counters_bound_the_private_share(forked_copy):
    for process in forked_copy[0]:
        assert sandbox._resident_memory(process) >= sandbox._private_memory(process) - sandbox.RSS_COUNTER_LAG


def test_far_below_the_cap_no_page_table_is_walked(monkeypatch):
    def walked(process):
        raise AssertionError("PSS read while RSS was far below the cap")

    here = psutil.Process()
    resident = sandbox._resident_memory(here)
    monkeypatch.setattr(sandbox, "_private_memory", walked)
    assert not sandbox._over([here], resident + 2 * sandbox.RSS_COUNTER_LAG)
    with pytest.raises(AssertionError, match="PSS read"):  # near it, the precise count decides
        sandbox._over([here], resident + sandbox.RSS_COUNTER_LAG // 2)
