"""The class report: one static HTML page about a graded class (the library behind `genimg-grade report`).

    paths = write_report(load_class("grades/"), "report.html", similarity=compare(...))

The page is self-contained: its CSS is inline, its figures are PNGs embedded
as base64 data, it needs no JavaScript and no server; open it from disk or
mail it. Next to it, `<name>_students/<student>.html` holds each student's
full report (`writers.text_report`, the text `genimg-grade` prints), linked
from the page. Sections:

1. scores, two figures side by side: a histogram of the total scores,
   stacked by status (a grade the grading machine spoilt, status
   "environment", is not a grade and is left out, counted in the title), and
   each part's mean points over the graded submissions, as a share of its
   points;
2. misconceptions: how many students' failed parts matched each mistake of the
   catalogue (genimg_kit.checks.diagnosis), most students first;
3. per check: how many graded submissions failed it, their failure messages
   grouped after numbers are replaced by "#" (so "got 0.5" and "got 0.25"
   group), each group with its count, one message as written, its most
   frequent counterexamples, and the hint the students got;
4. every submission: score, status, grading time, points per part, flags
   from reconcile (tampering, disagreement), a link to the full report;
   status "environment" is marked apart: the grading machine failed, not the
   student, and the submission is to be graded again;
5. similarity (`autograder.report.similarity`): the most similar pairs, ranked;
   the flagged ones side by side, their matching code highlighted.

Sections 2 and 3 count only graded submissions (status "ok"): a submission
that could not be read fails every check with one message, which says nothing
about the checks; section 4 lists it with that message.
"""

import base64
import collections
import dataclasses
import hashlib
import html
import io
import pathlib
import re
import string

import jinja2
import markupsafe
import numpy as np
from copydetect.utils import highlight_overlap

from autograder import writers
from genimg_kit.parts import PARTS, format_points
from genimg_kit.text import shown as shown_name

STATUS_LABELS = {
    "ok": "graded",
    "error": "error: could not be graded",
    "timeout": "timeout: stopped at the deadline",
    "missing": "missing: nothing submitted",
    "environment": "environment: the grading machine failed, not the student; grade again",
}
STATUS_COLOURS = {"ok": "#4c72b0", "error": "#c44e52", "timeout": "#dd8452", "missing": "#8c8c8c"}
TOP_MESSAGES = 3  # message groups shown per check
TOP_COUNTEREXAMPLES = 3  # counterexamples shown per message group
RANKED_PAIRS = 25  # pairs listed in the similarity ranking (at least every flagged one)
SIDE_BY_SIDE = 20  # flagged pairs shown side by side, most similar first
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("autograder", "templates"), autoescape=True,
    trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
_TEMPLATES.filters["points"] = format_points
_TEMPLATES.filters["name"] = shown_name  # a student id: itself, or its repr when it holds anything unprintable


# --- what the page says --------------------------------------------------------------


def normalise_message(text):
    """A failure message with its numbers as "#": near-identical messages group."""
    return NUMBER.sub("#", text)


@dataclasses.dataclass
class MessageGroup:
    message: str  # the most frequent wording of the group, as written
    students: int
    counterexamples: list  # [(counterexample, count)], most frequent first


@dataclasses.dataclass
class CheckSummary:
    id: str
    part: str
    description: str
    hidden: bool
    hint: str
    failed: int  # graded submissions that failed it
    graded: int  # graded submissions that ran it
    groups: list  # [MessageGroup], largest first


@dataclasses.dataclass
class MisconceptionCount:
    part: str
    label: str  # genimg_kit.checks.diagnosis.Misconception.label
    students: int


def misconception_counts(records):
    """[MisconceptionCount] over the graded submissions, most students first: how many
    students' numbers matched each catalogued mistake (genimg_kit.checks.diagnosis)."""
    counts = collections.Counter(
        (c.part, c.misconception) for record in graded(records).values() for c in record.checks()
        if c.misconception)
    return [MisconceptionCount(part, label, n)
            for (part, label), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def graded(records):
    """The records that are grades of the students' work: status "ok"."""
    return {s: r for s, r in records.items() if r.status == "ok"}


def check_summaries(records):
    """[CheckSummary] of every check the graded submissions ran, in the battery's order."""
    checks, failures = {}, collections.defaultdict(list)
    for record in graded(records).values():
        for c in record.checks():
            checks.setdefault(c.id, (c, []))[1].append(c)
            if not c.passed:
                failures[c.id].append(c)
    summaries = []
    for check_id, (first, results) in checks.items():
        by_message = collections.defaultdict(list)
        for c in failures[check_id]:
            by_message[normalise_message(c.message)].append(c)
        groups = []
        for failed in sorted(by_message.values(), key=len, reverse=True):
            wording = collections.Counter(c.message for c in failed).most_common(1)[0][0]
            examples = collections.Counter(c.counterexample for c in failed if c.counterexample)
            groups.append(MessageGroup(wording, len(failed), examples.most_common(TOP_COUNTEREXAMPLES)))
        summaries.append(CheckSummary(check_id, first.part, first.description, first.hidden, first.hint,
                                      len(failures[check_id]), len(results), groups))
    return summaries


# --- figures ------------------------------------------------------------------------


def draw_distribution(ax, records):
    """The total scores as a histogram stacked by status (environment left out)."""
    counted = {s: r for s, r in records.items() if r.status != "environment"}
    top = max([r.max_score for r in records.values()] + [1])
    bins = np.linspace(0, top, 21)
    statuses = [s for s in STATUS_COLOURS if any(r.status == s for r in counted.values())]
    ax.hist([[r.score for r in counted.values() if r.status == s] for s in statuses] or [[]], bins=bins,
            stacked=True, label=statuses or None, color=[STATUS_COLOURS[s] for s in statuses] or None,
            edgecolor="white")
    ax.set_xlabel(f"score (of {format_points(top)})")
    ax.set_ylabel("submissions")
    left_out = len(records) - len(counted)
    ax.set_title("Score distribution" + (f" ({left_out} environment failures left out)" if left_out else ""))
    if statuses:
        ax.legend(title="status")


def part_means(records):
    """{part: (mean points, its points)} over the graded submissions that graded the part."""
    means = {}
    for part in PARTS:
        results = [r.parts[part] for r in graded(records).values() if part in r.parts]
        if results:
            means[part] = (sum(p.points for p in results) / len(results), results[0].max_points)
    return means


def draw_part_means(ax, records):
    """Each part's mean points as a share of its points, labelled mean/points."""
    means = part_means(records)
    parts = list(means)
    shares = [100 * mean / top if top else 0 for mean, top in means.values()]
    bars = ax.barh(parts[::-1], shares[::-1], color="#55a868")
    for bar, (mean, top) in zip(bars, list(means.values())[::-1]):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                f"{mean:.1f}/{format_points(top)}", va="center", fontsize=8)
    ax.set_xlim(0, 115)
    ax.set_xlabel("mean, % of the part's points (graded submissions)")
    ax.set_title("Per-part means")


def _figure(*draws, records, width=6.4):
    """A figure (on matplotlib's Agg canvas, no pyplot, no display) of the `draws` side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * len(draws), 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    for ax, draw in zip(figure.subplots(1, len(draws), squeeze=False)[0], draws):
        draw(ax, records)
    return figure


def png_data(figure):
    """A figure as a base64 PNG, for an <img src="data:image/png;base64,...">."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def export_figures(records, path):
    """Both figures side by side in one file: PNG or PDF by `path`'s suffix."""
    _figure(draw_distribution, draw_part_means, records=records).savefig(path)


# --- the page -----------------------------------------------------------------------


# A student page's file name: the id with every character but these written as
# "_" and the hex of its UTF-8 bytes (so the name is one per id, and a URL as it
# stands); past PAGE_NAME_CHARS (a file name holds 255 bytes, and escaping can
# more than triple an id's length), a prefix of that and "_-" and a digest of the id.
_PAGE_SAFE = frozenset(string.ascii_letters + string.digits + ".-")
PAGE_NAME_CHARS = 120


def student_page_name(student):
    """The file name of a student's page (also its URL): one per id, whatever the id holds."""
    name = "".join(c if c in _PAGE_SAFE else "".join(f"_{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
                   for c in student)
    if len(name) > PAGE_NAME_CHARS:
        digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = re.sub("_[0-9A-F]?$", "", name[:PAGE_NAME_CHARS - 18]) + "_-" + digest
    return name + ".html"


def _highlighted(text, slices):
    """`text` as HTML, its matching stretches in <mark>."""
    if getattr(slices, "ndim", 1) != 2 or not slices.shape[1]:
        return markupsafe.Markup(html.escape(text))
    marked, _ = highlight_overlap(text, slices, "<mark>", "</mark>", escape_html=True)
    return markupsafe.Markup(marked)


def similarity_view(similarity):
    """What the similarity section shows: the ranking and, for flagged pairs, the code."""
    if similarity is None:
        return None
    flagged = similarity.flagged
    shown = []
    for pair in flagged[:SIDE_BY_SIDE]:
        first_slices, second_slices, by_piece = similarity.details(pair)
        first, second = similarity.codes[pair.first], similarity.codes[pair.second]
        shown.append({"pair": pair, "by_piece": by_piece,
                      "first": _highlighted(first.text, first_slices),
                      "second": _highlighted(second.text, second_slices),
                      "first_source": "\n\n".join(first.pieces.values()),
                      "second_source": "\n\n".join(second.pieces.values())})
    return {"result": similarity, "ranked": similarity.pairs[:max(RANKED_PAIRS, len(flagged))],
            "flagged": flagged, "shown": shown}


def write_report(graded_class, out, similarity=None, png=False, pdf=False):
    """Writes the page at `out` and each student's page next to it; returns the paths written.

    `similarity`: an autograder.report.similarity.Similarity of the class, or None
    (the section then says why there is none). `png`/`pdf`: also the figures
    as `<out>.png` / `<out>.pdf`.
    """
    out = pathlib.Path(out)
    records = graded_class.records
    pages = out.parent / f"{out.stem}_students"
    pages.mkdir(parents=True, exist_ok=True)
    for student, record in records.items():
        writers.write_text(_TEMPLATES.get_template("student_report.html.j2").render(
            student=student, record=record, report=writers.text_report(record),
            flags=graded_class.flags.get(student, []), labels=STATUS_LABELS, class_page=out.name),
            pages / student_page_name(student))
    statuses = collections.Counter(r.status for r in records.values())
    page = _TEMPLATES.get_template("class_report.html.j2").render(
        graded_class=graded_class, records=records, parts=list(PARTS), statuses=statuses,
        labels=STATUS_LABELS, graded_count=len(graded(records)),
        distribution=png_data(_figure(draw_distribution, records=records)),
        means=png_data(_figure(draw_part_means, records=records)),
        checks=check_summaries(records), misconceptions=misconception_counts(records),
        top_messages=TOP_MESSAGES,
        pages=pages.name, page_name=student_page_name, similarity=similarity_view(similarity),
        side_by_side=SIDE_BY_SIDE)
    writers.write_text(page, out)
    written = [out, pages]
    for wanted, suffix in ((png, ".png"), (pdf, ".pdf")):
        if wanted:
            export_figures(records, out.with_suffix(suffix))
            written.append(out.with_suffix(suffix))
    return written
