"""A synthetic class for the class report and the similarity check.

    students = write_class(folder)          # [Student], files in `folder`
    truth = copied_pairs(students)          # {(a, b)}: the pairs that share an author

Every solution is a notebook built from the real release notebook
(assignments/release/ch17): each stub cell's definition replaced by the
student's piece, the rest (given code, docstrings of the other cells) as
handed out, so the starter code is shared by everyone as in a real class.
Buggy students hand in a .py file instead.

Kinds (20 students in `write_class`'s default mix):

- correct: the reference pieces (genimg_ref) — one student;
- independent: correct solutions by different authors, each piece chosen
  from a pool of differently written correct implementations (the
  reference, tests/mutants.py's CORRECT_VARIANTS, and a few more below),
  the combinations spread so that no two authors share more pieces than
  they must (independent authors of short pieces do coincide, as in a
  real class: both may take the chapter's formula);
- buggy: an independent solution with one piece replaced by a mutant of
  the reference piece (tests/mutants.py);
- copied: another student's pieces disguised (`disguise`): local variables
  renamed, docstrings and comments rewritten, formatting changed, the
  functions reordered and moved into one cell at the end of the notebook
  (the stubs left in place above them);
- broken: a notebook that is not JSON;
- tampered: an independent solution whose reconcile row is flagged (the
  report reads the flag from reconcile's CSV; the code itself is honest).
"""

import ast
import dataclasses
import functools
import itertools
import pathlib

import nbformat

from genimg_kit.parts import GRADED_NAMES, PARTS
from tests.mutants import CORRECT_VARIANTS, MODULE_OF_PART, MUTANTS, REFERENCE

ROOT = pathlib.Path(__file__).resolve().parent.parent
STARTER = ROOT / "assignments" / "release" / "ch17" / "ch17_image_generation.ipynb"
PART_OF = {PARTS[p].names[0]: p for p in PARTS if len(PARTS[p].names) == 1}  # graded name -> part

# Correct pieces beyond the reference and CORRECT_VARIANTS, so every piece has
# at least four differently written versions.
MORE_VARIANTS = {
    "kl_loss": ['''
def kl_loss(z_mean, z_log_var):
    variance = keras.ops.exp(z_log_var)
    terms = 0.5 * (variance + keras.ops.square(z_mean) - z_log_var - 1.0)
    return keras.ops.sum(terms, axis=-1)
'''],
    "diffusion_schedule": ['''
def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    lo = ops.arccos(max_signal_rate)
    hi = ops.arccos(min_signal_rate)
    theta = lo + (hi - lo) * diffusion_times
    return ops.sin(theta), ops.cos(theta)
''', '''
def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    start = ops.arccos(max_signal_rate)
    span = ops.arccos(min_signal_rate) - start
    angles = ops.add(ops.multiply(diffusion_times, span), start)
    noise_rates = ops.sin(angles)
    signal_rates = ops.cos(angles)
    return noise_rates, signal_rates
'''],
    "slerp": ['''
def slerp(t, v1, v2):
    a = ops.convert_to_tensor(v1, dtype="float32")
    b = ops.convert_to_tensor(v2, dtype="float32")
    c = float(ops.sum(a * b) / (ops.sqrt(ops.sum(a * a)) * ops.sqrt(ops.sum(b * b))))
    c = max(-1.0, min(1.0, c))
    if abs(c) > PARALLEL_DOT:
        return a * (1.0 - t) + b * t
    omega = math.acos(c)
    w1 = ops.sin((1.0 - t) * omega) / math.sin(omega)
    w2 = ops.sin(t * omega) / math.sin(omega)
    return w1 * a + w2 * b
'''],
}


def definition(source, name):
    """The source of the top-level definition of `name` in `source`."""
    for node in ast.parse(source).body:
        if getattr(node, "name", None) == name:
            return ast.get_source_segment(source, node)
    raise KeyError(name)


def _reference(name):
    return definition((REFERENCE / MODULE_OF_PART[PART_OF[name]]).read_text(), name)


POOLS = {name: [_reference(name)]
         + [definition(source, name) for part, _, source in CORRECT_VARIANTS if part == PART_OF[name]]
         + [definition(source, name) for source in MORE_VARIANTS.get(name, [])]
         for name in GRADED_NAMES}


def mutant_piece(mutant_id):
    """(graded name, source) of a mutant of the reference (tests/mutants.py)."""
    mutant = next(m for m in MUTANTS if m.id == mutant_id)
    name = PARTS[mutant.part].names[0]
    return name, definition(mutant.source(), name)


@functools.lru_cache
def author_choices(count):
    """`count` combinations of pool indices (one per graded name), the first the
    reference's; each next one sharing as few pieces as it can with those before."""
    chosen = [tuple(0 for _ in GRADED_NAMES)]
    candidates = list(itertools.product(*(range(len(POOLS[n])) for n in GRADED_NAMES)))
    while len(chosen) < count:
        def worst_overlap(combo):
            return max(sum(x == y for x, y in zip(combo, other)) for other in chosen)
        chosen.append(min(candidates, key=lambda c: (worst_overlap(c), c)))
    return tuple(chosen)


class _Rename(ast.NodeTransformer):
    """Renames a function's local variables (not its parameters: callers may name them)."""

    def visit_FunctionDef(self, node):
        params = {a.arg for a in node.args.args + node.args.kwonlyargs}
        stored = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        names = {old: f"q{i}_{old[:1]}" for i, old in enumerate(dict.fromkeys(stored)) if old not in params}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in names:
                n.id = names[n.id]
        node.body = [s for s in node.body if not _is_docstring(s)] or [ast.Pass()]
        node.body.insert(0, ast.Expr(ast.Constant(f"My own {node.name}, written from scratch.")))
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node):
        node.body = [s for s in node.body if not _is_docstring(s)] or [ast.Pass()]
        self.generic_visit(node)
        return node


def _is_docstring(statement):
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def disguise(source):
    """The same code as a copier hides it: locals renamed, docstrings replaced,
    formatting changed (ast.unparse), a comment added over every `return`."""
    text = ast.unparse(_Rename().visit(ast.parse(source)))
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("return"):
            lines.append(line[:len(line) - len(line.lstrip())] + "# the result, as required")
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Student:
    name: str
    kind: str  # correct, independent, buggy, copied, broken, tampered
    origin: str  # whose code it is: its own name, or the copied student's origin
    pieces: dict  # graded name -> source ({} for broken)
    bug_part: str = ""  # the part whose piece is a mutant (buggy, and copies of buggy code)
    path: pathlib.Path = None


def notebook(pieces, appended=None):
    """The release notebook with each stub replaced by `pieces[name]`; `appended`
    (a source) as one more code cell at the end."""
    nb = nbformat.read(STARTER, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython syntax: not a stub cell
            continue
        lines = cell.source.splitlines()
        for node in reversed(tree.body):
            if getattr(node, "name", None) in pieces:
                lines[node.lineno - 1:node.end_lineno] = pieces[node.name].splitlines()
        cell.source = "\n".join(lines)
    if appended:
        nb.cells.append(nbformat.v4.new_code_cell(appended))
    return nbformat.writes(nb)


PY_HEADER = "import math\n\nimport keras\nimport numpy as np\nfrom keras import ops\n\nPARALLEL_DOT = 0.9995\n\n\n"
BROKEN_NOTEBOOK = '{"cells": [ this is not json'
BUGS = ["KL sign flipped", "rates swapped", "slerp as lerp", "variance used as std", "remix weights swapped"]

# (kind, whose code a copier takes) per student, in order.
DEFAULT_MIX = (["correct"] + ["independent"] * 8 + ["buggy"] * 4 + ["copied:s03", "copied:s11", "copied:s07"]
               + ["broken", "tampered", "independent", "independent"])


def make_class(mix=DEFAULT_MIX):
    """[Student] for `mix`; names s01, s02, ... in order."""
    authors = iter(author_choices(sum(1 for k in mix if k in ("correct", "independent", "buggy", "tampered"))))
    students, by_name, bugs = [], {}, iter(itertools.cycle(BUGS))
    for i, kind in enumerate(mix, 1):
        name = f"s{i:02d}"
        if kind.startswith("copied:"):
            source = by_name[kind.split(":")[1]]
            student = Student(name, "copied", source.origin, dict(source.pieces), source.bug_part)
        elif kind == "broken":
            student = Student(name, kind, name, {})
        else:
            combo = next(authors)
            pieces, bug_part = {n: POOLS[n][j] for n, j in zip(GRADED_NAMES, combo)}, ""
            if kind == "buggy":
                bug_name, pieces[bug_name] = mutant_piece(next(bugs))
                bug_part = PART_OF[bug_name]
            student = Student(name, kind, name, pieces, bug_part)
        students.append(student)
        by_name[name] = student
    return students


def write_class(folder, mix=DEFAULT_MIX):
    """Writes each student's submission into `folder`; returns the students, paths set."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    students = make_class(mix)
    for s in students:
        if s.kind == "broken":
            s.path, text = folder / f"{s.name}.ipynb", BROKEN_NOTEBOOK
        elif s.kind == "buggy":
            s.path, text = folder / f"{s.name}.py", PY_HEADER + "\n\n\n".join(s.pieces.values()) + "\n"
        elif s.kind == "copied":
            hidden = "\n\n".join(disguise(s.pieces[n]) for n in reversed(GRADED_NAMES))
            s.path, text = folder / f"{s.name}.ipynb", notebook({}, appended=hidden)
        else:
            s.path, text = folder / f"{s.name}.ipynb", notebook(s.pieces)
        s.path.write_text(text)
    return students


def copied_pairs(students):
    """The pairs (a, b), a < b, of students whose code has one origin."""
    return {(a.name, b.name) for a, b in itertools.combinations(students, 2)
            if a.origin == b.origin and a.pieces}
