"""The grader's layering: apps parse and call, libraries never import the apps."""

import ast
import pathlib

import autograder

ROOT = pathlib.Path(autograder.__file__).parent
APPS = ("autograder.cli", "autograder.apps")


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_library_module_imports_the_cli_or_an_app():
    libraries = [p for p in ROOT.rglob("*.py")
                 if p.name != "cli.py" and "apps" not in p.relative_to(ROOT).parts]
    assert len(libraries) >= 10
    offenders = {str(p.relative_to(ROOT)): name for p in libraries for name in imported_modules(p)
                 if name.startswith(APPS)}
    assert offenders == {}


def test_every_app_module_has_a_parser_and_a_main():
    import importlib

    for path in sorted((ROOT / "apps").glob("*.py")):
        if path.stem in ("__init__", "options"):
            continue
        module = importlib.import_module(f"autograder.apps.{path.stem}")
        assert callable(module.build_parser) and callable(module.main), path.stem


def _calls(path):
    """The names of the functions and methods `path` calls."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            yield func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_one_module_enters_the_namespaces_and_restricts():
    confine = ROOT / "isolation" / "confine" / "__init__.py"
    callers = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") for name in _calls(p)
               if name in ("enter", "restrict")}
    assert callers == {str(confine.relative_to(ROOT))}
    sequence_callers = {p.name for p in (ROOT / "isolation").glob("*.py") if "confine" in set(_calls(p))}
    assert sequence_callers == {"child.py", "kernel.py"}


def test_no_module_of_the_grader_or_the_kit_is_over_400_lines():
    import genimg_kit

    modules = [*ROOT.rglob("*.py"), *pathlib.Path(genimg_kit.__file__).parent.rglob("*.py")]
    long = {str(p): n for p in modules if (n := len(p.read_text().splitlines())) > 400}
    assert len(modules) > 50 and long == {}


def test_the_old_entry_points_still_work(tmp_path):
    import subprocess
    import sys

    import autograder.confine
    import autograder.isolation.confine

    assert autograder.confine is autograder.isolation.confine
    # kernel.json files of courses set up before the move name `python -m autograder.kernel`.
    done = subprocess.run([sys.executable, "-m", "autograder.kernel", "-f", str(tmp_path / "absent.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "isolation/kernel.py" in done.stderr and "absent.json" in done.stderr
