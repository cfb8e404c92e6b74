"""`packer fmt`, byte for byte: the canonical layout of HCL2 templates.

`packer fmt` (1.6.6) parses a file to check it, then runs `hclwrite.Format` on it, which
works on tokens only and changes nothing but the blanks between them. The passes below
are those of hclwrite's `format.go` (HCL 2.8), in the same order:

1. split the token stream into lines (a newline token or a `#`/`//` comment ends one);
   each line has a *lead* cell, an *assign* cell (from the first `=` after the first
   token, when the brackets from there to the end of the line balance) and a *comment*
   cell (a trailing comment after other tokens);
2. indent each line by two spaces per open bracket level (counted per line, with a stack
   so that lines opening or closing several brackets at once step one level);
3. set the blanks between tokens inside each cell (`_space_after`);
4. align the `=` of consecutive lines that have an assign cell, then the trailing
   comments of consecutive lines that have a comment cell.

A heredoc is one "line" (its lines are not newline tokens), so its body and closing
marker are never re-indented; blanks inside its `${ }` sequences are normalised, as
hclwrite does. Blank lines are kept as they are. What this module does not do is the
full parse: a file that tokenizes but is not valid HCL (say `a =` with nothing after)
is formatted here, where packer refuses it; `release validate` reports those.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass, field

from releasemgr.template.diagnostics import Diagnostic, error
from releasemgr.template.lexer import (
    AND, BANG, CBRACE, CBRACK, CHEREDOC, COLON, COMMA, COMMENT, CONTROL, CPAREN, CQUOTE, DOT,
    ELLIPSIS, EQUAL, EQUALOP, GE, GT, IDENT, INTERP, LE, LT, MINUS, NEWLINE, NIL, NOTEQUAL,
    NUMBER, OBRACE, OBRACK, OHEREDOC, OPAREN, OQUOTE, OR, PERCENT, PLUS, QUESTION, QUOTEDLIT,
    SEQEND, SLASH, STAR, STRINGLIT, Tokens, lex,
)
from releasemgr.template.syntax.parser import decode_source

HCL2_SUFFIXES = (".pkr.hcl", ".pkrvars.hcl")


def format_source(text: str, filename: str = "<stdin>") -> tuple[str | None, list[Diagnostic]]:
    """The formatted text, or None and the diagnostics when `text` does not tokenize."""
    tokens, diags = lex(text, filename)
    if diags:
        return None, diags
    return format_tokens(tokens), []


# -- the hclwrite passes ---------------------------------------------------------------------

_BRACKET_CHANGE = {OBRACE: 1, OBRACK: 1, OPAREN: 1, CONTROL: 1, INTERP: 1,
                   CBRACE: -1, CBRACK: -1, CPAREN: -1, SEQEND: -1}
_OPENERS = frozenset(k for k, v in _BRACKET_CHANGE.items() if v > 0)
_CLOSERS = frozenset(k for k, v in _BRACKET_CHANGE.items() if v < 0)
_NO_SPACE_AROUND_TEMPLATE_SUBJECT = frozenset({QUOTEDLIT, STRINGLIT, OQUOTE, OHEREDOC})
_NO_SPACE_AROUND_TEMPLATE_AFTER = frozenset({QUOTEDLIT, STRINGLIT, CQUOTE, CHEREDOC})
# After these a minus is a negation (no space after it), not a subtraction.
_NEGATION_BEFORE = frozenset({
    NIL, OPAREN, OBRACE, OBRACK, EQUAL, COLON, COMMA, QUESTION,
    PLUS, STAR, SLASH, PERCENT, MINUS,
    EQUALOP, NOTEQUAL, GT, GE, LT, LE,
    AND, OR, BANG,
})


def _space_after(subject: int, before: int, after: int, subject_text: str) -> bool:
    """hclwrite's spaceAfterToken: one blank between `subject` and `after`, or none."""
    if after == NEWLINE:
        return False
    if subject == IDENT and after == OPAREN:
        return False  # a function call
    if subject == DOT or after == DOT:
        return False
    if after == COMMA or after == ELLIPSIS:
        return False
    if subject == COMMA:
        return True
    if subject in _NO_SPACE_AROUND_TEMPLATE_SUBJECT or after in _NO_SPACE_AROUND_TEMPLATE_AFTER:
        return False  # inside a template
    if subject == IDENT and before == IDENT and subject_text == "in":
        return True  # `for x in [a]`, not `in[a]`
    if after == OBRACK and (subject == IDENT or subject == NUMBER or subject in _CLOSERS):
        return False  # an index
    if subject == MINUS:
        return before not in _NEGATION_BEFORE
    if subject == OBRACE or after == CBRACE:
        return not (subject == OBRACE and after == CBRACE)  # `{ a = 1 }`, but `{}`
    if (subject == INTERP or subject == CONTROL) and after == OBRACE:
        return True
    if subject == CBRACE and after == SEQEND:
        return True
    if subject == SEQEND and (after == INTERP or after == CONTROL):
        return False
    if subject in _OPENERS or after in _CLOSERS:
        return False
    return True


def format_tokens(tokens: Tokens) -> str:
    """Re-space a token stream the way hclwrite.Format does and return the text."""
    kinds, texts = tokens.kinds, tokens.texts
    n = len(kinds)
    spaces = [0] * n  # blanks before each token

    # Pass 1: lines and their cells, as (start, assign, comment, end) token indices;
    # assign/comment equal the end of the cell before them when the cell is absent.
    ends = [i + 1 for i, kind in enumerate(kinds)
            if kind == NEWLINE or (kind == COMMENT and texts[i][-1] == "\n")]
    if not ends or ends[-1] < n:
        ends.append(n)
    lines = []
    start = 0
    for end in ends:
        if end > start:
            lines.append(_cells(kinds, start, end))
        start = end

    indents: list[int] = []
    change = _CHANGE.__getitem__
    heredocs = OHEREDOC in kinds
    for start, assign, comment, end in lines:
        # Pass 2: indentation (a blank line gets none).
        if kinds[start] != NEWLINE:
            if heredocs and OHEREDOC in kinds[start:assign]:  # count up to the heredoc's opener
                net = sum(map(change, kinds[start:kinds.index(OHEREDOC, start, assign) + 1]))
            else:
                net = sum(map(change, kinds[start:assign]))
            net += sum(map(change, kinds[assign:comment]))
            if net < 0:
                closed = -net
                while closed > 0 and indents:
                    if closed >= indents[-1]:
                        closed -= indents.pop()
                    else:
                        indents[-1] -= closed
                        closed = 0
            spaces[start] = 2 * len(indents)
            if net > 0:
                indents.append(net)
        # Pass 3: blanks between the tokens of each cell.
        _space_cell(kinds, texts, spaces, start, assign)
        if assign < comment:
            spaces[assign] = 1
            _space_cell(kinds, texts, spaces, assign, comment)

    # Pass 4: align `=` over runs of lines with an assign cell, then trailing comments.
    ascii_only = "".join(texts).isascii()

    def columns(first: int, last: int) -> int:
        if ascii_only:
            joined = "".join(texts[first:last])
            return sum(spaces[first:last]) + len(joined) - joined.count("\r\n")
        return sum(spaces[first:last]) + sum(_width(texts[i]) for i in range(first, last))

    _align(lines, spaces, 1, [columns(start, assign) if assign < comment else -1
                              for start, assign, comment, end in lines])
    _align(lines, spaces, 2, [columns(start, comment) if comment < end else -1
                              for start, assign, comment, end in lines])

    out = [" " * s + t if s else t for s, t in zip(spaces, texts)]
    out.append(" " * tokens.trailing_spaces)
    return "".join(out)


_CHANGE = [0] * 0x2500  # bracket change by token kind (every kind is below U+2500)
for _kind, _change in _BRACKET_CHANGE.items():
    _CHANGE[_kind] = _change
_PAIRS: dict[int, int] = {}  # _space_after by (subject, after) where `before` cannot matter


def _space_cell(kinds, texts, spaces, first: int, last: int) -> None:
    pairs = _PAIRS
    for i in range(first, last - 1):
        subject, after = kinds[i], kinds[i + 1]
        if subject == MINUS or (subject == IDENT and texts[i] == "in"):
            spaces[i + 1] = _space_after(subject, kinds[i - 1] if i > first else NIL, after, texts[i])
            continue
        key = subject << 14 | after
        blank = pairs.get(key)
        if blank is None:
            blank = pairs[key] = int(_space_after(subject, NIL, after, ""))
        spaces[i + 1] = blank


def _cells(kinds: list[int], start: int, end: int) -> tuple[int, int, int, int]:
    comment = end - 1 if end - start > 1 and kinds[end - 1] == COMMENT else end
    assign = comment
    try:
        i = kinds.index(EQUAL, start + 1, comment)
    except ValueError:
        return start, assign, comment, end
    # Only a whole expression is aligned: not the `=` of `a = [` that opens lines.
    if sum(map(_CHANGE.__getitem__, kinds[i:comment])) == 0:
        assign = i
    return start, assign, comment, end


def _align(lines, spaces, cell: int, widths: list[int]) -> None:
    """Give cell number `cell` of each run of consecutive lines that have it (width >= 0)
    the same column."""
    run: list[int] = []
    for j, width in enumerate(widths + [-1]):
        if width >= 0:
            run.append(j)
        elif run:
            widest = max(widths[k] for k in run)
            for k in run:
                spaces[lines[k][cell]] = widest - widths[k] + 1
            run = []


# -- columns: grapheme clusters, as go-textseg counts them -----------------------------------

def _width(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")
    return _grapheme_count(text)


def _grapheme_count(text: str) -> int:
    """Extended grapheme clusters (UAX #29), close to the Unicode 9 rules go-textseg uses.

    Only the widths of the cells that are aligned depend on this; the rules left out
    (Prepend, the finer emoji rules) concern characters rarely found in a template.
    """
    count = 0
    prev = None  # the break class of the previous code point
    regional_run = 0
    for ch in text:
        cls = _break_class(ch)
        if prev is None:
            joined = False
        elif prev == "CR" and cls == "LF":
            joined = True
        elif prev in ("CR", "LF", "Control") or cls in ("CR", "LF", "Control"):
            joined = False
        elif cls in ("Extend", "ZWJ", "SpacingMark"):
            joined = True
        elif prev == "L" and cls in ("L", "V", "LV", "LVT"):
            joined = True
        elif prev in ("LV", "V") and cls in ("V", "T"):
            joined = True
        elif prev in ("LVT", "T") and cls == "T":
            joined = True
        elif prev == "ZWJ" and cls == "Pictographic":
            joined = True
        elif prev == "RI" and cls == "RI":
            joined = regional_run % 2 == 1
        else:
            joined = False
        regional_run = regional_run + 1 if cls == "RI" else 0
        if not joined:
            count += 1
        prev = cls
    return count


def _break_class(ch: str) -> str:
    cp = ord(ch)
    if cp == 0x0D:
        return "CR"
    if cp == 0x0A:
        return "LF"
    if cp == 0x200D:
        return "ZWJ"
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    if 0x1F3FB <= cp <= 0x1F3FF or cp == 0x200C:
        return "Extend"  # emoji modifiers, zero width non-joiner
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    category = unicodedata.category(ch)
    if category in ("Mn", "Me"):
        return "Extend"
    if category == "Mc":
        return "SpacingMark"
    if category in ("Cc", "Cf", "Zl", "Zp"):
        return "Control"
    if category == "So" and cp >= 0x2600:
        return "Pictographic"
    return "Other"


# -- files -------------------------------------------------------------------------------------

@dataclass
class FileResult:
    """One input formatted: `path` as the user will see it ("-" for standard input)."""

    path: str
    source: str | None = None
    formatted: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.formatted is not None and self.formatted != self.source


def is_hcl2_file(path: str) -> bool:
    return path.endswith(HCL2_SUFFIXES)


def collect_files(path: str, recursive: bool = False) -> list[str]:
    """The templates a directory stands for, in `packer fmt`'s order and spelling.

    Like packer 1.6.6: the directory's `*.pkr.hcl` files, then its `*.pkrvars.hcl` files,
    each sorted by name, paths joined and cleaned as Go's filepath.Join does. With
    `recursive`, then the same for each sub-directory (hidden ones skipped), depth first.
    """
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    for suffix in HCL2_SUFFIXES:
        found += [os.path.normpath(os.path.join(path, e.name)) for e in entries
                  if e.name.endswith(suffix) and not e.is_dir()]
    if recursive:
        for e in entries:
            if not e.name.startswith(".") and e.is_dir():
                found += collect_files(os.path.join(path, e.name), recursive=True)
    return found


def format_bytes(data: bytes, path: str) -> FileResult:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return FileResult(path, diagnostics=decode_source(path, data)[1])
    formatted, diags = format_source(text, path)
    return FileResult(path, text, formatted, diags)


def format_file(path: str) -> FileResult:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return FileResult(path, diagnostics=[error("Cannot read file", exc.strerror or str(exc), file=path)])
    return format_bytes(data, path)


def write_atomically(path: str, text: str) -> None:
    """Replace the file's content in one step (a temporary file in the same folder, then
    a rename), keeping its mode and, where allowed, its owner. A symbolic link is
    followed: its target is replaced, the link stays."""
    import tempfile

    target = os.path.realpath(path)
    st = os.stat(target)
    folder, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".fmt-tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
            if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
                except OSError:
                    pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def unified_diff(old: str, new: str, path: str) -> str:
    """`diff -u --label=old/PATH --label=new/PATH`, as packer shows it with -diff (hunks
    may be grouped differently: this is difflib's matching, not GNU diff's)."""
    import difflib

    a, b = _diff_lines(old), _diff_lines(new)
    out = [f"--- old/{path}\n", f"+++ new/{path}\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_diff_range(i1, i2)} +{_diff_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [_diff_line(" ", line) for line in a[a1:a2]]
                continue
            out += [_diff_line("-", line) for line in a[a1:a2]]
            out += [_diff_line("+", line) for line in b[b1:b2]]
    return "".join(out)


def _diff_lines(text: str) -> list[str]:
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n\\ No newline at end of file\n"


def _diff_range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"
