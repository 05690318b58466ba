"""`genimg-grade --help` names every subcommand, and each subcommand has its own --help."""

import pytest

from autograder import cli


def help_of(argv, capsys):
    """The text `genimg-grade ARGV` prints, after checking that it exits with status 0."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_main_help_lists_every_subcommand_with_its_summary(capsys):
    text = help_of(["--help"], capsys)
    assert text.startswith("usage: genimg-grade")
    for name, (_, summary) in cli.SUBCOMMANDS.items():
        assert f"  {name} " in text and summary in text, name


@pytest.mark.parametrize("name", cli.SUBCOMMANDS)
def test_each_subcommand_has_a_help(name, capsys):
    assert help_of([name, "--help"], capsys).startswith(f"usage: genimg-grade {name}")


def test_a_grade_loads_no_subcommand_nor_what_they_depend_on():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, autograder.cli as c; c.build_parser(); "
         "print(sorted(m for m in sys.modules if m.startswith(('autograder.apps.', 'copydetect', 'distributed'))))"],
        capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['autograder.apps.options']"
