"""Text from a submission, made safe to show: the one sanitiser every report uses.

Whatever a submission prints, raises or is called reaches people through a
terminal, Gradescope's page, a spreadsheet or a browser. `plain(text)` is
that text with nothing left that a terminal or a text view would act on:

- escape sequences go whole: CSI (`ESC [` ... final byte, and the C1 byte
  U+009B), OSC, DCS, SOS, PM and APC strings up to their terminator (BEL or
  ST), and the two- and three-byte `ESC x` ones;
- every other C0 control character but newline goes (BEL, BS, NUL, ...), a
  tab becomes spaces; DEL and the C1 controls (U+0080-U+009F) go;
- CR, CR LF and the other line breaks Python splits lines on (VT, FF, FS,
  GS, RS, NEL, U+2028, U+2029) become one newline, so nothing can return to
  the start of a line and overwrite it, and a line a formatter splits is a
  line of the text;
- bidirectional embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069) go, so text cannot be shown in another order than written;
- lone surrogates (which no UTF-8 file or terminal can take) become U+FFFD.

`one_line(text)` is `plain` on one line (names, labels): a line break shows
as " / ". Both are idempotent: cleaning clean text changes nothing.
`quoted(text)` is text a submission wrote as lines of a report: each behind
"  | ". `shown(name)` is a name that must stay tellable from every other
(a student id in a log line or a page): itself, or its repr when it holds
anything unprintable.

The kit holds it because its own report (`genimg_kit.checks.report`) shows
check messages too; the grader's record (`autograder.record`) passes every
text it holds through it.
"""

import re

# A sequence as a terminal reads it. String commands (OSC, DCS, SOS, PM, APC)
# run to BEL or ST (ESC \ or U+009C) on the same line (one left open loses
# only its introducer: what follows stays visible); CSI to its final byte;
# the rest are ESC, intermediate bytes, one final byte.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
_ESCAPE = r"\x1b[\x20-\x2f]*[\x30-\x7e]"
_SEQUENCES = re.compile(f"{_STRING}|{_CSI}|{_ESCAPE}")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# What is left to drop: C0 but newline and tab, DEL, C1, the bidi controls.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def plain(text):
    """`text` with no control character but newline, no escape sequence, no bidi control."""
    text = _SEQUENCES.sub("", str(text))
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text).replace("\t", "    ")
    return _SURROGATES.sub("\ufffd", text)


def one_line(text):
    """`plain(text)` on one line: each line break shown as " / "."""
    return plain(text).replace("\n", " / ")


def quoted(text, prefix="  | "):
    """Each line of `text` behind `prefix`: text a submission wrote, shown so that
    none of it starts a line of the report or looks like one of its lines."""
    return [prefix + line for line in plain(text).split("\n")]


def shown(name):
    """A name (a student id, a file name) as a log line or a page shows it: itself
    when every character of it is printable, else its Python repr (quoted, its
    control characters, line breaks and bidi controls escaped), so that two
    names never look alike and neither can break or colour the line."""
    name = str(name)
    return name if name.isprintable() else repr(name)
