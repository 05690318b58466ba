"""The points table: one place that the CLI, the notebooks and the bundles read.

Six parts grade one name each; two convergence parts train the chapter's
models with several of them together. A part's points are shared among its
checks in proportion to their weights (each check declares its weight where
it is defined, public or hidden). The table says how much weight a part's
hidden checks hold, not what they check: a self-check without them shows
how many points are left for grading.
"""

import dataclasses
import difflib
import importlib
import math


@dataclasses.dataclass(frozen=True)
class Part:
    names: tuple  # the top-level names the part needs
    points: float
    tags: tuple  # Gradescope tags: the part id, or "convergence" plus the model
    hidden_weight: float = 0.0  # the weights of the part's hidden checks, summed
    # The module that holds the part's checks and probes (genimg_kit.checks, genimg_kit.probes)
    # and its hidden checks (autograder.hidden); "" for the part's own id.
    module: str = ""


PARTS = {
    "sampler": Part(("Sampler",), 12, ("sampler",), hidden_weight=1),
    "kl_loss": Part(("kl_loss",), 12, ("kl_loss",), hidden_weight=2),
    "diffusion_schedule": Part(("diffusion_schedule",), 12, ("diffusion_schedule",), hidden_weight=4),
    "denoise": Part(("denoise",), 12, ("denoise",), hidden_weight=1),
    "generate": Part(("generate",), 16, ("generate",)),
    "slerp": Part(("slerp",), 16, ("slerp",), hidden_weight=1),
    "vae_convergence": Part(("Sampler", "kl_loss"), 10, ("convergence", "vae"), module="convergence"),
    "diffusion_convergence": Part(("diffusion_schedule", "denoise", "generate"), 10,
                                  ("convergence", "diffusion"), module="convergence"),
}

# Points come in quarter points: at most two decimals, and exact in binary
# floating point, so every consumer's sum (Python, GitHub Classroom's
# JavaScript reporter, nbgrader's database) adds up to the same total.
QUANTUM = 0.25
assert all(float(part.points / QUANTUM).is_integer() for part in PARTS.values())

GRADED_NAMES = tuple(dict.fromkeys(name for part in PARTS.values() for name in part.names))
TOTAL_POINTS = sum(part.points for part in PARTS.values())
assert TOTAL_POINTS == 100, TOTAL_POINTS


def part_points(part):
    return PARTS[part].points


def format_points(points):
    """Points as every report writes them: `12`, `4.5`, `1.25`."""
    return f"{points:.2f}".rstrip("0").rstrip(".")


def apportion(points, weights):
    """`points` shared in proportion to `weights`, in whole quanta, adding up exactly.

    Largest-remainder rounding: every share gets the quanta it holds in full,
    then the quanta left over go to the largest fractions (ties to the first).
    """
    units, total = round(points / QUANTUM), sum(weights)
    exact = [units * w / total for w in weights]
    shares = [math.floor(e) for e in exact]
    by_fraction = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_fraction[:units - sum(shares)]:
        shares[i] += 1
    return [share * QUANTUM for share in shares]


def module_of(part):
    return PARTS[part].module or part


def part_modules(package):
    """The modules of `package` that hold the parts (genimg_kit.probes'), in the table's order."""
    names = dict.fromkeys(module_of(part) for part in PARTS)
    return [importlib.import_module(f"{package}.{name}") for name in names]


def checks_by_part(package, parts=tuple(PARTS)):
    """{part: checks} for `parts`, from the `CHECKS` of each one's module in `package`
    (genimg_kit.checks, autograder.hidden): every check says its part, and a module
    holds only checks of the parts it is the module of."""
    found = {}
    for part in parts:
        module = importlib.import_module(f"{package}.{module_of(part)}")
        strays = [c.id for c in module.CHECKS if c.part not in PARTS or module_of(c.part) != module_of(part)]
        if strays:
            raise ValueError(f"{module.__name__} lists checks of parts it does not hold: {', '.join(strays)}")
        found[part] = tuple(c for c in module.CHECKS if c.part == part)
    return found


def missing_names(part, defined):
    """The names `part` needs that are not in `defined`."""
    return [name for name in PARTS[part].names if name not in defined]


def near_misses(name, candidates):
    """The entries of `candidates` (a dict keyed by name) whose name is close to the graded
    `name`: the same but for case or underscores (`KL_loss`), the name with more around
    it (`generate_images`, `my_slerp`), or a typo away (`kl_los`, `Samplr`)."""
    def squash(text):
        return text.lower().replace("_", "")

    def near(other):
        a, b = squash(name), squash(other)
        return other != name and (a == b or (len(a) >= 4 and a in b)
                                  or difflib.SequenceMatcher(None, a, b).ratio() >= 0.85)

    return {other: value for other, value in candidates.items() if near(other)}


class MissingName(Exception):
    """Graded names the submission does not define at its top level (`names`), and what
    was found instead (`found`: sentences, e.g. the syntax error of its cell, a near miss)."""

    def __init__(self, names, found=()):
        self.names = list(names)
        message = f"{', '.join(f'`{n}`' for n in self.names)} not defined at the top level of the submission"
        super().__init__("; ".join([message, *found]))
