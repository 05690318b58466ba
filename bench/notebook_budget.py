"""Benchmark: the chapter notebook at one budget, per backend — wall times, quality numbers, figures.

    python bench/notebook_budget.py --budget cpu --backend jax        # execute, then report
    python bench/notebook_budget.py --from solutions/ch17_image_generation.ipynb --gallery

Executes the source notebook (its solution cells are the answer key) top to
bottom with nbclient, offline, at the budget given (`GENIMG_BUDGET`), in a
temporary folder, as `assignments/build.py solutions` does; or reads a
notebook executed before (`--from`, e.g. the committed solutions). Prints a
markdown table for docs/GALLERY.md and docs/PERFORMANCE.md: the notebook's
whole wall time, the time of its training and sampling cells, and the
quality lines the notebook printed (digit classes in the latent grid, the
flowers' kernel distance). With `--gallery`, also writes every figure the
notebook showed to `docs/gallery/<budget>-<backend>-<figure>`.
"""

import argparse
import base64
import datetime
import importlib.util
import os
import re
import tempfile

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GALLERY = os.path.join(ROOT, "docs", "gallery")

_spec = importlib.util.spec_from_file_location("genimg_build", os.path.join(ROOT, "assignments", "build.py"))
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

# Cells worth a row of their own, found by what their code calls.
TIMED_CELLS = {
    "VAE training": "vae.fit(",
    "latent grid": "plot_latent_grid(",
    "flowers loading": "load_flowers(",
    "diffusion training": "model.fit(",
    "flowers generation": "NUM_FLOWERS = ",
    "quality numbers": "if BUDGET.measures_quality:\n",
}
PART_III = "## Part III"
QUALITY_LINE = re.compile(r"^(?:Quality|Budget)\b.*$", re.M)
FIGURE_NAME = re.compile(r"\{FIGURES\}/([\w.-]+)\.(png|jpg)")


def cell_seconds(cell):
    """Seconds between a cell's start and its reply, from nbclient's timing metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def stdout_of(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def report(nb, label):
    code = [c for c in nb.cells if c.cell_type == "code"]
    total = sum(cell_seconds(c) or 0 for c in code)
    rows = [f"| {label} | whole notebook | {total:.0f} s |"]
    for name, marker in TIMED_CELLS.items():
        seconds = sum(cell_seconds(c) or 0 for c in code if marker in c.source)
        rows.append(f"| {label} | {name} | {seconds:.0f} s |")
    part_iii = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and PART_III in c.source)
    seconds = sum(cell_seconds(c) or 0 for c in nb.cells[part_iii:] if c.cell_type == "code")
    rows.append(f"| {label} | Stable Diffusion 3 (all of Part III) | {seconds:.0f} s |")
    print("| run | cells | wall time |\n|---|---|---|\n" + "\n".join(rows))
    for cell in code:
        for line in QUALITY_LINE.findall(stdout_of(cell)):
            print(f"- {line}")
    problems = build.failures(nb)
    print("check cells: " + ("all at full points" if not problems else "; ".join(problems)))


def write_gallery(nb, prefix):
    os.makedirs(GALLERY, exist_ok=True)
    for cell in nb.cells:
        match = FIGURE_NAME.search(cell.get("source", ""))
        if cell.cell_type != "code" or not match:
            continue
        for output in cell.get("outputs", []):
            for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
                if mime in output.get("data", {}):
                    path = os.path.join(GALLERY, f"{prefix}-{match.group(1)}.{ext}")
                    with open(path, "wb") as f:
                        f.write(base64.b64decode(output["data"][mime]))
                    print(f"wrote {os.path.relpath(path, ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="cpu", help="fast, cpu or full (default cpu)")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND") or "tensorflow")
    parser.add_argument("--from", dest="executed", help="an executed notebook to read instead of running one")
    parser.add_argument("--gallery", action="store_true", help="write its figures to docs/gallery/")
    args = parser.parse_args()
    if args.executed:
        nb = nbformat.read(args.executed, as_version=4)
        budget, backend = build.budget_and_backend(nb)
    else:
        nb = nbformat.read(build.SOURCE, as_version=4)
        budget, backend = args.budget, args.backend
        with tempfile.TemporaryDirectory() as workdir:
            build.execute_notebook(nb, workdir, timeout=None, env=build.notebook_env(budget, backend))
    report(nb, f"{budget}, {backend}")
    if args.gallery:
        write_gallery(nb, f"{budget}-{backend}")


if __name__ == "__main__":
    main()
