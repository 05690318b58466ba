"""What the sandbox's watchdog counts as a submission's memory: its own pages
(PSS), read cheaply while the kernel's RSS counters keep it far from the cap."""

import os
import signal

import psutil
import pytest

from autograder.isolation import memory

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
    resident = sum(memory.resident_memory(p) for p in tree)
    private = sum(memory.private_memory(p) for p in tree)
    assert resident >= 400 * MB and private < resident - 150 * MB, (resident, private)
    assert not memory.over_cap(tree, resident - 100 * MB)  # what RSS alone would stop
    assert memory.over_cap(tree, private - 100 * MB)


def test_the_kernels_counters_bound_the_private_share(forked_copy):
    for process in forked_copy[0]:
        assert memory.resident_memory(process) >= memory.private_memory(process) - memory.RSS_COUNTER_LAG


def test_far_below_the_cap_no_page_table_is_walked(monkeypatch):
    def walked(process):
        raise AssertionError("PSS read while RSS was far below the cap")

    here = psutil.Process()
    resident = memory.resident_memory(here)
    monkeypatch.setattr(memory, "private_memory", walked)
    assert not memory.over_cap([here], resident + 2 * memory.RSS_COUNTER_LAG)
    with pytest.raises(AssertionError, match="PSS read"):  # near it, the precise count decides
        memory.over_cap([here], resident + memory.RSS_COUNTER_LAG // 2)
