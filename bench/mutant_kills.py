"""Kill and acceptance counts of the check battery on this backend.

    KERAS_BACKEND=jax python -m bench.mutant_kills

For every mutant of the catalogue (tests/mutants.py): does it lose points with
the whole battery, and with the public checks alone (the notebook's
self-check)? For every correct variant: does it keep full marks? Runs in this
process, like tests/test_check_battery.py; prints one line per miss and the
counts, which the closing notes of validity issues quote.
"""

import sys
import time

import keras

from autograder.hidden import HIDDEN
from genimg_kit.checks.battery import run_part
from genimg_kit.checks.subject import LocalSubject
from genimg_kit.parts import part_points
from tests.mutants import CORRECT_VARIANTS, GRADIENT_MUTANTS, MUTANTS


def points(part, source, hidden):
    keras.utils.set_random_seed(0)
    namespace = {"__name__": "submission"}
    exec(compile(source, "<submission>", "exec"), namespace)
    return run_part(part, LocalSubject(namespace), hidden).points


def main():
    started = time.perf_counter()
    mutants = MUTANTS + GRADIENT_MUTANTS
    killed = public_killed = 0
    for m in mutants:
        full = part_points(m.part)
        graded = points(m.part, m.source(), HIDDEN) < full - 1e-6
        public = points(m.part, m.source(), None) < full - 1e-6 if graded else False
        killed += graded
        public_killed += public
        if not public:
            print(f"  {'public checks pass' if graded else 'NOT CAUGHT'}: {m.id}")
    accepted = 0
    for part, title, source in CORRECT_VARIANTS:
        ok = abs(points(part, source, HIDDEN) - part_points(part)) < 1e-6
        accepted += ok
        if not ok:
            print(f"  REJECTED correct variant: {part}: {title}")
    print(f"backend {keras.backend.backend()}: mutants killed {killed}/{len(mutants)} "
          f"(public checks alone {public_killed}/{len(mutants)}), correct variants at full marks "
          f"{accepted}/{len(CORRECT_VARIANTS)}, {time.perf_counter() - started:.0f} s")
    return 0 if killed == len(mutants) and accepted == len(CORRECT_VARIANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
