"""Reading a submission: which code of it the grader runs.

The rule (also in the README): from every code cell of a notebook, or every
`.py` file, in order, the grader keeps the top-level statements that define
things, and drops the ones that *do* things:

- kept: `import` / `from ... import`, `def`, `class`, and assignments whose
  right-hand side calls nothing but a few harmless constructors
  (`SeedGenerator`, `float`, `np.array`, ...): `latent_dim = 2`,
  `seed_generator = keras.random.SeedGenerator(1337)`;
- dropped: everything else — training (`model.fit`), data downloads,
  plotting, prints, loops, `if __name__ == "__main__":` blocks, and IPython
  magics and shell commands.

Each kept statement runs on its own: one that raises costs only the names it
would have defined. A kept statement that uses a name only a dropped one
defines is dropped too (it could only fail, and its error would read like
the student's). Parsing happens here; nothing is executed in this process.

Every name the source defines anywhere is listed (`Definition`), with why
the grader does not have it when it does not run it: so a graded name that
is missing can be explained (a syntax error in its cell, a `def` inside an
`if`, a near miss like `KL_loss`), `explain_missing`.

Places are named the way a student finds them: a file and its line, or a
notebook's cell by its first line (Jupyter shows no cell numbers).

Every byte here is the submission's, read by the grader's own process (its
files by `autograder.submission_files`, which follows no link): the reader
parses each cell or file of at most `Limits.source_bytes`, turns a parser
that gives up (nesting too deep for it) into a note, and works in time
linear in the submission's size. What it cannot read costs its own cell or
file, with a note saying why.
"""

import ast
import dataclasses
import re

from genimg_kit.parts import near_misses

from autograder.limits import Limits
from autograder.record import Note
from autograder.submission_files import UnreadableSubmission, submission_files

# Calls allowed in a kept assignment: constructors of constants, nothing that
# loads data, builds or trains a model.
ALLOWED_CALLS = {
    "SeedGenerator", "float", "int", "str", "bool", "tuple", "list", "dict", "set",
    "frozenset", "range", "array", "asarray", "float32", "float64", "int32", "sqrt",
    "log", "exp", "cos", "sin", "arccos", "radians",
}


@dataclasses.dataclass
class Unit:
    """One top-level statement to run, with where it came from."""

    label: str
    source: str


@dataclasses.dataclass
class Definition:
    """A name the source defines somewhere; `why` the grader does not run it ("" when it does)."""

    name: str
    where: str
    why: str = ""
    function: bool = True  # a `def` or `class`, not a value


@dataclasses.dataclass
class Submission:
    units: list
    skipped: list  # Notes: what was left out and why
    definitions: list = dataclasses.field(default_factory=list)


def _call_name(call):
    func = call.func
    while isinstance(func, ast.Call):
        func = func.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _calls_outside_lambdas(node):
    """Calls an expression makes when evaluated (a lambda's body runs later)."""
    if isinstance(node, ast.Lambda):
        return
    if isinstance(node, ast.Call):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _calls_outside_lambdas(child)


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
COMPOUND = {ast.If: "an `if`", ast.For: "a `for` loop", ast.While: "a `while` loop", ast.With: "a `with`",
            ast.Try: "a `try`", ast.AsyncFor: "a `for` loop", ast.AsyncWith: "a `with`"}


def _why_dropped(node):
    """Why the grader does not run a top-level statement; "" when it keeps it."""
    if isinstance(node, (ast.Import, ast.ImportFrom, *DEFINITIONS)):
        return ""
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        calls = [_call_name(c) for c in _calls_outside_lambdas(node.value)]
        unsafe = [c for c in calls if c not in ALLOWED_CALLS]
        return f"its value calls `{unsafe[0] or 'a function'}`, and the grader runs no calls" if unsafe else ""
    if type(node) in COMPOUND:
        return f"it is inside {COMPOUND[type(node)]}: the grader runs only top-level statements"
    return "the grader runs only imports, definitions and constants"


def _bound(node):
    """The names a statement binds at the top level, and those its nested `def`s and `class`es name."""
    if isinstance(node, DEFINITIONS):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    names = [n.id for t in targets if t is not None for n in ast.walk(t)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    if type(node) in COMPOUND:
        names += [n.name for n in _walk_outside_functions(node) if isinstance(n, DEFINITIONS)]
    return names


def _walk_outside_functions(node):
    """`node` and what it holds, except the bodies of functions and lambdas (they run later)."""
    yield node
    if isinstance(node, ast.Lambda):
        children = [node.args]
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        children = [*node.decorator_list, node.args]
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _walk_outside_functions(child)


def _names_used(node):
    """The names a kept statement reads when it runs and does not bind itself (a
    comprehension's variable; a function's body runs later)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return set()
    names = [n for n in _walk_outside_functions(node) if isinstance(n, ast.Name)]
    return {n.id for n in names if isinstance(n.ctx, ast.Load)} - {n.id for n in names if isinstance(n.ctx, ast.Store)}


def _line_breaks(source):
    """The source's lines with their ends, split where the parser splits them (not at form feeds)."""
    return re.split(r"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)", source)


def _segment(lines, node):
    """The source text of `node` (ast.get_source_segment, which re-splits the
    whole source on every call: quadratic in the number of statements)."""
    # Offsets are in UTF-8 bytes of their line.
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
    return "".join([lines[first].encode()[node.col_offset:].decode(), *lines[first + 1:last],
                    lines[last].encode()[:node.end_col_offset].decode()])


# A `def` or `class` in a cell that did not parse, found without the parser.
_DEFINED_IN_TEXT = re.compile(r"^\s*(?:async\s+def|def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*=[^=]", re.M)


class _Reader:
    """Reads cells and files in order into kept units, notes and definitions.

    It carries which names only dropped statements define (`unrun`), so a kept
    statement that reads one is dropped as well, and so on down the notebook.
    """

    def __init__(self, limits):
        self.limits = limits
        self.units, self.skipped, self.definitions = [], [], []
        self.unrun, self.bound = set(), set()

    def add(self, source, origin):
        size = len(source.encode(errors="replace"))
        if size > self.limits.source_bytes:
            return self._unparsed(source, origin, f"{size} bytes, more than the {self.limits.source_bytes} "
                                                  "a cell or file may have")
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            return self._unparsed(source, origin, f"syntax error on line {error.lineno} ({error.msg})")
        except (RecursionError, MemoryError, ValueError):  # the parser's own limits (nesting depth)
            return self._unparsed(source, origin, "nested too deeply to parse")
        lines = _line_breaks(source)
        for node in tree.body:
            self._statement(node, lines, f"{origin}, line {node.lineno}")

    def _statement(self, node, lines, label):
        why = _why_dropped(node)
        if not why and (needs := sorted(_names_used(node) & self.unrun - self.bound)):
            why = f"it uses `{needs[0]}`, which only a statement the grader does not run defines"
        names = _bound(node)
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            functions = {n.name for n in _walk_outside_functions(node) if isinstance(n, DEFINITIONS)}
            self.definitions += [Definition(n, label, why, n in functions) for n in names]
        if why:
            self.unrun.update(names)
            self.bound.difference_update(names)
            first = lines[node.lineno - 1].strip()
            self.skipped.append(Note("skipped", f"{label}: not run ({first[:60]})"))
        else:
            self.bound.update(names)
            self.units.append(Unit(label, _segment(lines, node)))

    def _unparsed(self, source, origin, reason):
        self.skipped.append(Note("load_error", f"{origin}: {reason}; the whole cell/file was skipped"))
        sample = source[:self.limits.source_bytes]
        self.definitions += [Definition(d or a, origin, f"its cell or file was skipped ({reason})", bool(d))
                             for d, a in _DEFINED_IN_TEXT.findall(sample)]


def units_from_source(source, origin, limits=None):
    """The kept top-level statements of one cell or file, and notes on what was not kept."""
    reader = _Reader(limits or Limits())
    reader.add(source, origin)
    return reader.units, reader.skipped


def _notebook_sources(data, name):
    """[(source, origin)] of a notebook's code cells (source None where IPython cannot
    read it); raises ValueError when the file is not a readable notebook."""
    # Imported here: a folder of .py files needs neither (nbformat alone takes a second to
    # import, and both hold 28 MB of a grading container's memory).
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        cells = nbformat.reads(data.decode("utf-8"), as_version=4).cells
    except Exception as error:  # not UTF-8, not JSON, not a notebook, nested too deeply for the JSON reader
        raise ValueError(f"{name} is not a readable notebook: {str(error)[:300]}") from None
    transformer, sources = TransformerManager(), []
    for cell in cells:
        if cell.get("cell_type") != "code" or _is_course_test(cell):
            continue
        try:
            # IPython syntax (%magics, !shell) becomes get_ipython() calls, which are dropped;
            # the blank lines it strips at the top are put back, so line numbers are the cell's.
            blank = len(cell.source) - len(cell.source.lstrip("\n \t"))
            source = "\n" * cell.source[:blank].count("\n") + transformer.transform_cell(cell.source)
        except Exception:
            source = None
        sources.append((source, f"{name}, {cell_name(cell.source)}"))
    return sources


def _is_course_test(cell):
    """An nbgrader test cell (graded, not a solution): the course's self-check, not the student's code."""
    marks = cell.get("metadata", {}).get("nbgrader", {})
    return bool(marks.get("grade")) and not marks.get("solution")


def cell_name(source):
    """A notebook cell named as a student finds it: by its first line (Jupyter numbers no cells)."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return f'the cell starting "{first[:40]}{"..." if len(first) > 40 else ""}"' if first else "an empty cell"


def read_submission(path, limits=None):
    """Parses a .py file, .ipynb notebook or folder of them into kept units.
    Raises UnreadableSubmission when nothing of it could be read."""
    limits = limits or Limits()
    files, notes = submission_files(path, limits)
    reader, parsed = _Reader(limits), 0
    for relative, data in files:
        name = relative.rsplit("/", 1)[-1]
        if name.endswith(".ipynb"):
            try:
                sources = _notebook_sources(data, name)
            except ValueError as error:
                notes.append(Note("load_error", str(error)))
                continue
        else:
            sources = [(data.decode("utf-8", errors="replace"), name)]
        for source, origin in sources:
            if source is None:
                notes.append(Note("load_error", f"{origin}: IPython could not read the cell; skipped"))
                continue
            parsed += len(source.encode(errors="replace"))
            if parsed > limits.sources_bytes:
                notes.append(Note("load_error", f"{origin}: past the {limits.sources_bytes} bytes of source "
                                                "the grader parses in a submission; skipped"))
                continue
            reader.add(source, origin)
    skipped = reader.skipped
    if not reader.units and not skipped and notes:  # not one cell or file could be read
        raise UnreadableSubmission("; ".join(n.text for n in notes))
    if len(skipped) > limits.skipped_listed:
        more = len(skipped) - limits.skipped_listed
        skipped[limits.skipped_listed:] = [Note("skipped", f"... and {more} more top-level statements "
                                                            "not run")]
    return Submission(reader.units, skipped + notes, reader.definitions)


def explain_missing(name, submission, load_errors):
    """Why the graded `name` is not defined, from what the source says: its
    cell did not parse, it is not run (inside an `if`, it calls something),
    its definition raised (`load_errors`: the notes of statements that did),
    or a near miss defines something like it: [(where, sentence)], `where` the place
    whose note the sentence says again (None for a near miss), [] when the source
    has no trace of it."""
    said = []
    for d in (d for d in submission.definitions if d.name == name):
        if d.why:
            said.append((d.where, f"`{name}` ({d.where}) is not run: {d.why}"))
        else:
            said += [(d.where, f"`{name}` ({d.where}) raised while the grader defined it: {e.split(': ', 1)[-1]}")
                     for e in load_errors if e.startswith(f"{d.where}:")]
    if said:
        return said
    near = near_misses(name, {d.name: d.where for d in submission.definitions if d.function})
    return [(None, f"found `{n}` ({where}): the grader looks for the name `{name}`") for n, where in near.items()]
