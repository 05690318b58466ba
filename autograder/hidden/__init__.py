"""Hidden checks: the exact-value properties that would give the answer away.

It never ships to students (the student kit holds only the public half).
`HIDDEN` lists each part's hidden checks, in order (each module's `CHECKS`,
found as genimg_kit.parts says, for the parts that have any); the grader and
nbgrader's hidden test blocks pass it to `battery` / `self_check`, which run
them after the part's public checks. Importing this package registers
nothing.
"""

from genimg_kit.parts import PARTS, checks_by_part

HIDDEN = checks_by_part("autograder.hidden", [part for part in PARTS if PARTS[part].hidden_weight])
