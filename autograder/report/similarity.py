"""Near-identical submissions: which pairs share their graded code beyond the starter.

    result = compare({"alice": "subs/alice.ipynb", "bob": "subs/bob.py"}, starter="release.ipynb")
    result.flagged          # [Pair], most similar first, score >= FLAG_AT

What is compared. Each submission is read as the grader reads it
(`autograder.submission.read_submission`: the top-level definitions it would
run). Of those, the graded pieces are kept: the last top-level `def`/`class`
of each of the six graded names (`genimg_kit.parts.GRADED_NAMES`) and the
top-level functions they call, transitively (a helper that does the work is
the work). They are joined in the points table's order, so moving functions
around changes nothing; the rest of the notebook (training cells, plots,
given code) is not compared.

Normalisation is ours; fingerprints are copydetect's (0.5). Each piece is
parsed and written out again in one canonical form (`normalise`): comments,
docstrings and formatting go (`ast.unparse` writes every piece the same
way), and every name the student chose inside a function, its parameters
and local variables, becomes v0, v1, ... in order of appearance, method by
method. What the student did not name is kept: the graded names, the
library calls (`ops.exp`, `keras.random.normal`), attributes, keywords,
numbers and strings. So renaming variables, rewording comments and
docstrings, reformatting and reordering leave the compared text exactly as
it was. copydetect is then handed that text with its own filter off: its
filter turns every identifier into V, API calls included, and on pieces
this short that left almost no margin (on tests/synthetic_class.py:
disguised copies 0.83-0.93, the most alike independent pair 0.82); with the
library calls kept, copies score 1.0 and independent pairs at most 0.86.
The text is fingerprinted by
winnowing its k-grams (k = NOISE characters; the algorithm behind MOSS,
Schleimer, Wilkerson and Aiken 2003).

Boilerplate. Every k-gram of the starter (the release notebook or .py the
students began from, normalised the same way: its stubs' signatures,
its given code) is removed from every submission's
fingerprints, so code that every student was handed counts for nobody.

Score of a pair: copydetect's similarity of each side (the share of its
fingerprinted code that lies in stretches matching the other), averaged over
the two sides. A submission that holds none of the graded names, or no code
of its own once the starter is discounted, is left out with the reason.
"""

import ast
import dataclasses
import io
import itertools

import numpy as np
from copydetect import CodeFingerprint, compare_files

from autograder.submission import read_submission
from autograder.submission_files import UnreadableSubmission
from genimg_kit.parts import GRADED_NAMES

NOISE = 25  # copydetect's default noise threshold: the k of its k-grams, in characters of normalised code
FLAG_AT = 0.9  # a pair whose score reaches this is flagged and shown side by side
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _Canonical(ast.NodeTransformer):
    """Docstrings dropped; in each function, its parameters and locals renamed v0, v1, ..."""

    def visit_FunctionDef(self, node):
        names = {}
        for n in ast.walk(node):
            if isinstance(n, ast.arg) and n.arg != "self":
                names.setdefault(n.arg, f"v{len(names)}")
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.setdefault(n.id, f"v{len(names)}")
        for n in ast.walk(node):
            if isinstance(n, ast.arg) and n.arg in names:
                n.arg = names[n.arg]
            elif isinstance(n, ast.Name) and n.id in names:
                n.id = names[n.id]
        return self.visit_ClassDef(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node


def normalise(source):
    """`source` in the canonical form that is compared (see the module's docstring)."""
    return ast.unparse(_Canonical().visit(ast.parse(source)))


@dataclasses.dataclass
class Code:
    """One submission's compared code: the graded pieces, in the points table's order."""

    student: str
    pieces: dict  # name -> source of its definition as written (helpers under their own names)

    @property
    def normalised(self):
        return {name: normalise(source) for name, source in self.pieces.items()}

    @property
    def text(self):
        """The normalised pieces, one after another: what is fingerprinted."""
        return "\n\n".join(self.normalised.values()) + "\n"


@dataclasses.dataclass
class Pair:
    first: str
    second: str
    score: float  # mean of the two shares
    shares: tuple  # (share of first's code matched, share of second's)


@dataclasses.dataclass
class Similarity:
    codes: dict  # student -> Code, those compared
    pairs: list  # every Pair of compared students, most similar first
    skipped: dict  # student -> why it was not compared
    starter: str  # the starter's path, "" when none was discounted
    flag_at: float  # a pair at or above this score is flagged
    boilerplate: np.ndarray  # the starter's k-gram hashes

    @property
    def flagged(self):
        return [p for p in self.pairs if p.score >= self.flag_at]

    def details(self, pair):
        """(slices of first's text, slices of second's, {graded name: score of that piece or None}):
        where one pair's matching stretches lie in their `Code.text`, and which pieces match."""
        first, second = self.codes[pair.first], self.codes[pair.second]
        _, _, slices = compare_files(self.fingerprint(first.text), self.fingerprint(second.text))
        ours, theirs = first.normalised, second.normalised
        by_piece = {name: _score(self.fingerprint(ours[name]), self.fingerprint(theirs[name]))[0]
                    if name in ours and name in theirs else None for name in GRADED_NAMES}
        return slices[0], slices[1], by_piece

    def fingerprint(self, text):
        return fingerprint(text, self.boilerplate)


def graded_code(student, path):
    """The Code of the submission at `path` (raises UnreadableSubmission)."""
    definitions = {}  # name -> source of its last top-level definition
    for unit in read_submission(path).units:
        for node in ast.parse(unit.source).body:
            if isinstance(node, DEFINITIONS):
                definitions[node.name] = unit.source
    keep, todo = [], [name for name in GRADED_NAMES if name in definitions]
    while todo:
        name = todo.pop(0)
        if name in keep:
            continue
        keep.append(name)
        todo += [n.func.id for n in ast.walk(ast.parse(definitions[name]))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in definitions]
    order = {name: i for i, name in enumerate(GRADED_NAMES)}
    keep.sort(key=lambda name: (order.get(name, len(order)), name))
    return Code(student, {name: definitions[name] for name in keep})


def fingerprint(text, boilerplate=np.array([]), window=1):
    """copydetect's fingerprint of normalised code (its own filter off), `boilerplate` hashes removed."""
    return CodeFingerprint("code.py", NOISE, window, boilerplate, filter=False, fp=io.StringIO(text))


def boilerplate_hashes(path):
    """Every k-gram hash of the starter's code, normalised: of all the units the grader would
    read from it, and of its graded pieces joined as a submission's are (`Code.text`)."""
    units = "\n".join(normalise(unit.source) for unit in read_submission(path).units)
    hashes = fingerprint(units).hashes | fingerprint(graded_code("starter", path).text).hashes
    return np.unique(np.array(list(hashes)))


def _score(a, b):
    """(mean share, (share of a, share of b)); 0 for a side with no fingerprint of its own."""
    if not a.token_coverage or not b.token_coverage:
        return 0.0, (0.0, 0.0)
    _, shares, _ = compare_files(a, b)
    shares = tuple(float(s) for s in shares)
    return sum(shares) / 2, shares


def compare(sources, starter=None, flag_at=FLAG_AT):
    """The Similarity of {student: submission path}, the starter at `starter` discounted."""
    boilerplate = boilerplate_hashes(starter) if starter else np.array([])
    codes, skipped, prints = {}, {}, {}
    for student, path in sorted(sources.items()):
        try:
            code = graded_code(student, path)
        except UnreadableSubmission as error:
            skipped[student] = f"could not be read: {error}"
            continue
        if not code.pieces:
            skipped[student] = f"defines none of {', '.join(GRADED_NAMES)}"
            continue
        prints[student] = fingerprint(code.text, boilerplate)
        if not prints[student].token_coverage:
            skipped[student] = "no graded code of its own once the starter is discounted"
            continue
        codes[student] = code
    pairs = []
    for a, b in itertools.combinations(sorted(codes), 2):
        score, shares = _score(prints[a], prints[b])
        pairs.append(Pair(a, b, score, shares))
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    return Similarity(codes, pairs, skipped, str(starter or ""), flag_at, boilerplate)
