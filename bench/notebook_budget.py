"""Benchmark: the chapter notebook at one budget, per backend — wall times, quality numbers, figures.

    python bench/notebook_budget.py --budget cpu --backend jax        # execute, then report
    python bench/notebook_budget.py --from solutions/ch17_image_generation.ipynb --gallery
    python bench/notebook_budget.py --budget full --cell-timeout 120 --gallery --gallery-dir OUT

Executes the source notebook (its solution cells are the answer key) top to
bottom with nbclient, offline, at the budget given (`GENIMG_BUDGET`), in a
temporary folder, as `assignments/build.py solutions` does; or reads a
notebook executed before (`--from`, e.g. the committed solutions). Prints a
markdown table for docs/GALLERY.md and docs/PERFORMANCE.md: the notebook's
whole wall time, the time of its training and sampling cells, and the
quality lines the notebook printed (digit classes in the latent grid, the
flowers' kernel distance). With `--gallery`, also writes every figure the
notebook showed to `docs/gallery/<budget>-<backend>-<figure>` (or
`--gallery-dir`). `--cell-timeout S` caps every cell at S seconds and goes
on with the next: the way to run the `full` budget's training for a fixed
time (`bench/gpu_check.sh` does, on a GPU).
"""

import argparse
import base64
import datetime
import importlib.util
import io
import os
import re
import tempfile

import nbformat

from genimg_kit.budget import BUDGETS
from genimg_kit.quality import digit_classes, tiles_of_latent_grid_figure

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
# The figures docs/GALLERY.md shows (the notebook draws a few more).
GALLERY_FIGURES = ("vae_latent_grid", "flowers_training", "flowers_generated", "sd3_astronaut",
                   "sd3_negative_prompt", "sd3_num_steps", "sd3_morph_zoom")
FIGURE_NAME = re.compile(r"\{FIGURES\}/([\w.-]+)\.(png|jpg)")


def cell_seconds(cell):
    """Seconds between a cell's start and its reply, from nbclient's timing metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


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
        for line in QUALITY_LINE.findall(build.stdout_of(cell)):
            print(f"- {line}")
    # Read off the figure itself too, as an outside reader would (every budget, fast included).
    grid = figure_of(nb, "plot_latent_grid(")
    if grid is not None:
        classes = digit_classes(tiles_of_latent_grid_figure(grid.convert("L"), n=30))
        print(f"- Latent-grid figure: a classifier trained on real MNIST reads {len(classes)} digit classes: {classes}")
    problems = build.failures(nb)
    print("check cells: " + ("all at full points" if not problems else "; ".join(problems)))


def shown_image(cell):
    """(bytes, "png" or "jpg") of the first image a code cell showed, or None."""
    for output in cell.get("outputs", []):
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
            if mime in output.get("data", {}):
                return base64.b64decode(output["data"][mime]), ext
    return None


def figure_of(nb, marker):
    """The image shown by the code cell containing `marker`, as a PIL image, or None."""
    from PIL import Image

    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source and shown_image(cell):
            return Image.open(io.BytesIO(shown_image(cell)[0]))
    return None


def write_gallery(nb, prefix, folder=GALLERY, names=GALLERY_FIGURES):
    os.makedirs(folder, exist_ok=True)
    for cell in nb.cells:
        match = FIGURE_NAME.search(cell.get("source", ""))
        if cell.cell_type != "code" or not match or match.group(1) not in names or not shown_image(cell):
            continue
        data, ext = shown_image(cell)
        path = os.path.join(folder, f"{prefix}-{match.group(1)}.{ext}")
        with open(path, "wb") as f:
            f.write(data)
        print(f"wrote {os.path.relpath(path, ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="cpu", choices=list(BUDGETS), help="default: cpu")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND") or "tensorflow")
    parser.add_argument("--from", dest="executed", help="an executed notebook to read instead of running one")
    parser.add_argument("--gallery", action="store_true", help="write its figures to the gallery folder")
    parser.add_argument("--gallery-dir", default=GALLERY, help="where --gallery writes (default docs/gallery/)")
    parser.add_argument("--figures", default=",".join(GALLERY_FIGURES),
                        help="which figures --gallery writes, by file name (default: those GALLERY.md shows)")
    parser.add_argument("--cell-timeout", type=float, help="interrupt a cell after this many seconds "
                        "and go on (default: no limit)")
    args = parser.parse_args()
    if args.executed:
        nb = nbformat.read(args.executed, as_version=4)
        budget, backend = build.budget_and_backend(nb)
    else:
        nb = nbformat.read(build.SOURCE, as_version=4)
        budget, backend = args.budget, args.backend
        with tempfile.TemporaryDirectory() as workdir:
            build.execute_notebook(nb, workdir, timeout=args.cell_timeout, env=build.notebook_env(budget, backend),
                                   interrupt_on_timeout=args.cell_timeout is not None)
    report(nb, f"{budget}, {backend}")
    if args.gallery:
        write_gallery(nb, f"{budget}-{backend}", args.gallery_dir, args.figures.split(","))


if __name__ == "__main__":
    main()
