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
