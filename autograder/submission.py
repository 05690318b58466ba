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
would have defined. Parsing happens here; nothing is executed in this process.
"""

import ast
import dataclasses
import pathlib

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from autograder.record import Note

# Calls allowed in a kept assignment: constructors of constants, nothing that
# loads data, builds or trains a model.
ALLOWED_CALLS = {
    "SeedGenerator", "float", "int", "str", "bool", "tuple", "list", "dict", "set",
    "frozenset", "range", "array", "asarray", "float32", "float64", "int32", "sqrt",
    "log", "exp", "cos", "sin", "arccos", "radians",
}


class UnreadableSubmission(Exception):
    pass


@dataclasses.dataclass
class Unit:
    """One top-level statement to run, with where it came from."""

    label: str
    source: str


@dataclasses.dataclass
class Submission:
    units: list
    skipped: list  # Notes: what was left out and why


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


def _keeps(node):
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return all(_call_name(c) in ALLOWED_CALLS for c in _calls_outside_lambdas(node.value))
    return False


def units_from_source(source, origin):
    """The kept top-level statements of one cell or file."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [], [Note("load_error", f"{origin}: syntax error on line {error.lineno} ({error.msg}); "
                                       "the whole cell/file was skipped")]
    units, skipped = [], []
    lines = source.splitlines()
    for node in tree.body:
        label = f"{origin}, line {node.lineno}"
        if _keeps(node):
            units.append(Unit(label, ast.get_source_segment(source, node, padded=False)
                              or "\n".join(lines[node.lineno - 1:node.end_lineno])))
        else:
            first = lines[node.lineno - 1].strip()
            skipped.append(Note("skipped", f"{label}: not run ({first[:60]})"))
    return units, skipped


def _notebook_sources(path):
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:
        raise UnreadableSubmission(f"{path.name} is not a readable notebook: {error}") from None
    transformer = TransformerManager()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            # IPython syntax (%magics, !shell) becomes get_ipython() calls, which are dropped.
            yield transformer.transform_cell(cell.source), f"{path.name} cell {index + 1}"


def _files(path):
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*")
            if p.suffix in (".py", ".ipynb") and not any(part.startswith((".", "__")) for part in p.relative_to(path).parts)
        )
    if path.suffix in (".py", ".ipynb"):
        return [path]
    raise UnreadableSubmission(f"{path} is not a .py file, an .ipynb notebook or a folder of them")


def read_submission(path):
    """Parses a .py file, .ipynb notebook or folder of them into kept units."""
    path = pathlib.Path(path)
    if not path.exists():
        raise UnreadableSubmission(f"{path} does not exist")
    units, skipped = [], []
    files = _files(path)
    if not files:
        raise UnreadableSubmission(f"{path} holds no .py or .ipynb file")
    for file in files:
        if file.suffix == ".ipynb":
            sources = _notebook_sources(file)
        else:
            try:
                sources = [(file.read_text(encoding="utf-8", errors="replace"), file.name)]
            except OSError as error:
                raise UnreadableSubmission(f"cannot read {file}: {error}") from None
        for source, origin in sources:
            kept, dropped = units_from_source(source, origin)
            units.extend(kept)
            skipped.extend(dropped)
    return Submission(units, skipped)
