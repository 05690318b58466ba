"""The subcommands of `genimg-grade`, one module each (`build_parser`, `main`).

`autograder.cli` dispatches to them. They only parse arguments, call the
libraries (autograder.batch, .course, .report, .bundle, .limits) and print; no library
module imports them or the CLI. Shared options: `autograder.apps.options`.
"""
