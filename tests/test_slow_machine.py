"""A slow machine is not the student's fault.

A part that runs out of time is timed against the reference solution on the
same machine: when the reference needs more than the part had, the machine is
too slow for its limits, and the part is graded again with twice what the
reference took (or, past the deadline, the grade says the machine failed, with
status "environment"); when the reference fits in the part's time, the
submission was the slow one. Here the machine's slowness is played by a
limit far below what training the VAE takes anywhere (its one probe trains
for seconds). Nothing here depends on the backend: tensorflow's pass runs it.
"""

import pytest

from autograder import REFERENCE
from autograder.grade import grade
from autograder.limits import Limits
from tests._submissions import write
from tests.mutants import reference_source

pytestmark = [pytest.mark.slow, pytest.mark.one_backend]

# Less than the reference's VAE training takes, on any machine.
TOO_SHORT = Limits(part_seconds=1.0, convergence_seconds=(("cpu", 1.0), ("gpu", 1.0)))
PART = ["vae_convergence"]


def test_a_correct_piece_whose_part_the_machine_cannot_finish_in_time_is_graded_again():
    record = grade(REFERENCE, parts=PART, limits=TOO_SHORT)
    assert record.status == "ok", record.message
    assert record.score == record.max_score, record.parts[PART[0]].checks[0].message
    [note] = [n.text for n in record.notes if n.kind == "slow_machine"]
    assert note.startswith("vae_convergence: graded again with") and "reference solution itself takes" in note


def test_a_piece_slower_than_the_reference_is_still_the_submissions(tmp_path):
    hanging = reference_source("vae.py") + (
        "\n\ndef kl_loss(z_mean, z_log_var):\n    import time\n    time.sleep(3600)\n")
    record = grade(write(tmp_path, "slow.py", hanging), parts=PART, limits=TOO_SHORT)
    assert record.status == "ok" and record.score == 0
    assert not [n for n in record.notes if n.kind == "slow_machine"]


def test_past_the_deadline_the_machine_is_said_to_have_failed_not_the_student():
    record = grade(REFERENCE, parts=PART, limits=TOO_SHORT, deadline=60)
    assert record.status == "environment", record.message
    assert "too slow" in record.message and "not the submission's fault" in record.message
