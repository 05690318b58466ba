"""The kit's code, shown in the notebook where the chapter teaches it.

The models a student trains live in the kit, so that the notebook holds only
the six graded pieces; but their code is the chapter's lesson (a model that
overrides `compute_loss`, the three stages of text-to-image). `show_source`
puts that code on the page, read-only, as it runs: what the notebook shows
is what trains.
"""

import ast
import inspect
import textwrap


def source_without_docstring(obj):
    """The source of a function, method or class, its own docstring left out
    (the notebook's text says what it does; the code shows how)."""
    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    first = node.body[0] if getattr(node, "body", None) else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return source
    lines = source.splitlines(keepends=True)
    return "".join(lines[:first.lineno - 1] + lines[first.end_lineno:])


def show_source(*objects):
    """The code of `objects` (the kit's functions, methods, classes) as one
    Markdown block of Python, for a notebook cell to display."""
    from IPython.display import Markdown

    code = "\n".join(_titled(obj) for obj in objects)
    return Markdown(f"```python\n{code}```")


def _titled(obj):
    """A method's code under a comment naming its class (its `def` alone does not)."""
    source = source_without_docstring(obj)
    owner = obj.__qualname__.rpartition(".")[0]
    return f"# {owner}.{obj.__name__}\n{source}" if owner and "<" not in owner else source
