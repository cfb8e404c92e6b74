"""A tokenizer for HCL native syntax that reproduces hclsyntax's scanner (HCL 2.8).

`release fmt` must be byte-identical to `packer fmt`, which is `hclwrite.Format`, which
works on the token stream of `hclsyntax.LexConfig` alone. So the token kinds, and which
bytes belong to which token, follow the Ragel scanner `hclsyntax/scan_tokens.rl`:

- single-line comments (`#`, `//`) include their newline; `/* */` comments do not;
- a heredoc opener includes its newline (`<<EOT\\n`), each heredoc line is one literal
  token that includes its newline, and the closing marker line is one token
  (leading and trailing blanks included) followed by a separate newline token;
- spaces and tabs between tokens are not tokens; only their count matters.

Literal runs inside strings may be split differently from Go (hclwrite never puts spaces
inside a literal, so it cannot show). Where Go's scanner would carry on after an error,
this one stops at the error, records a diagnostic and resumes where the user most likely
meant: formatting is refused whenever there is a diagnostic, so only the messages are
affected. Beyond what the scanner rejects, brackets must pair up: hclwrite's indentation
of unbalanced input is meaningless, and packer would refuse such a file anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from releasemgr.template.diagnostics import Diagnostic, Position, error

# Token kinds: the rune values of hclsyntax.TokenType, as ints.
OBRACE, CBRACE, OBRACK, CBRACK, OPAREN, CPAREN = map(ord, "{}[]()")
OQUOTE, CQUOTE, OHEREDOC, CHEREDOC = map(ord, "«»Hh")
STAR, SLASH, PLUS, MINUS, PERCENT = map(ord, "*/+-%")
EQUAL, EQUALOP, NOTEQUAL, LT, LE, GT, GE = map(ord, "=≔≠<≤>≥")
AND, OR, BANG, DOT, COMMA, ELLIPSIS, FATARROW, QUESTION, COLON = map(ord, "∧∨!.,…⇒?:")
INTERP, CONTROL, SEQEND = map(ord, "∫λ∎")
QUOTEDLIT, STRINGLIT, NUMBER, IDENT, COMMENT, NEWLINE = map(ord, "QSNIC\n")
NIL = 0  # "no token", as before the first token of a cell

_OPERATORS = {
    "...": ELLIPSIS, "==": EQUALOP, "!=": NOTEQUAL, ">=": GE, "<=": LE, "&&": AND, "||": OR,
    "=>": FATARROW,
    **{c: ord(c) for c in ".,*/%+-=<>!?:"},
}
# Characters the scanner knows but the language rejects (hclsyntax checkInvalidTokens).
_REJECTED = {
    "&": "Bitwise operators are not supported. Did you mean boolean AND (\"&&\")?",
    "|": "Bitwise operators are not supported. Did you mean boolean OR (\"||\")?",
    "~": "Bitwise operators are not supported. Did you mean boolean NOT (\"!\")?",
    "^": "Bitwise operators are not supported.",
    ";": "The \";\" character is not valid. Use newlines to separate arguments and blocks, "
         "and commas to separate items in collection values.",
    "'": "Single quotes are not valid. Use double quotes (\") to enclose strings.",
    "`": "The \"`\" character is not valid. To create a multi-line string, use the "
         "\"heredoc\" syntax, like \"<<EOT\".",
}
_CLOSER_OF = {"{": "}", "[": "]", "(": ")", "${": "}", "%{": "}"}

# Identifiers: (ID_Start | '_') (ID_Continue | '-')*. The regex takes every non-ASCII
# character; _ident_end trims to what Unicode allows. (Non-ASCII is spelled as "not one of
# the other ASCII characters": a class ranging up to U+10FFFF takes ~20 ms to compile.)
def _ascii_except(allowed: str) -> str:
    return "".join(re.escape(chr(c)) for c in range(128) if chr(c) not in allowed)


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_IDENT = rf"[^{_ascii_except(_LETTERS)}][^{_ascii_except(_LETTERS + '0123456789-')}]*"
# One match is the blanks before a token and the token. A quoted string without template
# sequences is matched whole (the common case); the others go through `quoted`.
_STRING_CHARS = r"(?:[^\"\\$%\r\n]|\\[^\r\n]|\$\$\{~?|%%\{~?|\$(?!\{)|%(?!\{))"
_MAIN = re.compile(
    r"[ \t]*(?:"
    r"(?P<id>[A-Za-z_][A-Za-z0-9_\-]*+)(?![^\x00-\x7f])"
    r"|(?P<nl>\r?\n)"
    rf"|(?P<str>\"{_STRING_CHARS}*\")"
    r"|(?P<op>\.\.\.|==|!=|>=|<=|&&|\|\||=>|[.,*+\-=>!?:%]|/(?![/*])|<(?!<))"
    r"|(?P<br>[][(){}]|~\})"
    r"|(?P<cm>#[^\n]*\n?|//[^\n]*\n?|/\*(?s:.*?)\*/)"
    r"|(?P<num>[0-9](?:(?:[0-9.]|[eE][+-]?[0-9])*(?:[0-9]|[eE][+-]?[0-9]))?)"
    rf"|(?P<uid>{_IDENT})"
    r"|(?P<quote>\")"
    rf"|(?P<hd><<-?{_IDENT}\r?\n)"
    r"|(?P<end>\Z)"
    r"|(?P<bad>(?s:.))"
    r")"
)
_SIMPLE = {"id": IDENT, "nl": NEWLINE, "cm": COMMENT, "num": NUMBER}
# Inside "...": a literal run (escapes, $${ and %%{ escapes, lone $ and %), a template
# sequence opener, the closing quote, or a line break (not allowed in quoted strings).
_QUOTED = re.compile(
    rf"(?P<lit>{_STRING_CHARS}+)"
    r"|(?P<seq>[$%]\{~?)"
    r"|(?P<end>\")"
    r"|(?P<nl>[\r\n])"
    r"|(?P<bad>\\)"
)
# Inside a heredoc: a literal run up to a template sequence or the end of the line.
_HEREDOC = re.compile(r"((?:[^$%\r\n]|\$\$\{~?|%%\{~?|\$(?!\{)|%(?!\{))*)(\r?\n)?")


@dataclass
class Tokens:
    """The token stream: kinds and texts side by side (the formatter reads nothing else).

    `trailing_spaces` is how many blanks follow the last token: hclwrite writes them out
    again (as spaces) because they are the "spaces before" of its EOF token.
    """

    kinds: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    trailing_spaces: int = 0


def lex(text: str, filename: str = "<stdin>") -> tuple[Tokens, list[Diagnostic]]:
    """Tokenize `text`; the diagnostics are every lexical error (empty when it is clean)."""
    return _Lexer(text, filename).run()


def _ident_end(text: str, start: int, end: int) -> int:
    """Where the identifier matched in text[start:end] really ends (start if it does not start)."""
    if not text[start].isidentifier():
        return start
    for i in range(start + 1, end):
        ch = text[i]
        if ch > "\x7f" and not ("a" + ch).isidentifier():
            return i
    return end


class _Lexer:
    def __init__(self, text: str, filename: str):
        # A UTF-8 byte order mark is skipped, but Go counts its three bytes as spaces
        # before the first token (which only shows in a file with no tokens at all).
        self.bom_spaces = 0
        if text.startswith("\ufeff"):
            text = text[1:]
            self.bom_spaces = 3
        self.text = text
        self.filename = filename
        self.tokens = Tokens()
        self.diags: list[Diagnostic] = []
        # Open brackets and template sequences: (opener text, offset).
        self.open: list[tuple[str, int]] = []

    def run(self) -> tuple[Tokens, list[Diagnostic]]:
        end = self.main(0, interp=False)
        assert end == len(self.text)
        for opener, offset in self.open:
            self.fail(offset, f"Unclosed \"{opener}\"",
                      f"This \"{opener}\" has no matching \"{_CLOSER_OF[opener]}\".")
        self.open.clear()
        if not self.tokens.kinds:
            self.tokens.trailing_spaces += self.bom_spaces
        self.diags.sort(key=lambda d: (d.start.line, d.start.column) if d.start else (0, 0))
        return self.tokens, self.diags

    # -- helpers ---------------------------------------------------------------------------
    def emit(self, kind: int, start: int, end: int) -> None:
        self.tokens.kinds.append(kind)
        self.tokens.texts.append(self.text[start:end])

    def fail(self, offset: int, summary: str, detail: str) -> None:
        text = self.text
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        source_line = text[line_start: None if line_end < 0 else line_end].rstrip("\r")
        self.diags.append(error(
            summary, detail, file=self.filename,
            start=Position(text.count("\n", 0, offset) + 1, offset - line_start + 1),
            source_line=source_line,
        ))

    def close(self, closer: str, offset: int) -> None:
        """Pair a closing bracket with the innermost open one."""
        if self.open and _CLOSER_OF[self.open[-1][0]] == closer:
            self.open.pop()
            return
        if self.open:
            opener, at = self.open[-1]
            line = self.text.count("\n", 0, at) + 1
            self.fail(offset, f"Unexpected \"{closer}\"",
                      f"Expected \"{_CLOSER_OF[opener]}\" to close the \"{opener}\" on line {line}.")
            if closer in {_CLOSER_OF[o] for o, _ in self.open}:
                while _CLOSER_OF[self.open.pop()[0]] != closer:
                    pass
        else:
            self.fail(offset, f"Unexpected \"{closer}\"", "There is no open bracket for it to close.")

    # -- the three scanner modes -----------------------------------------------------------
    def main(self, pos: int, interp: bool) -> int:
        """Code tokens from `pos`. Inside a template sequence (`interp`), stop after the
        brace that closes it and return the offset after it; otherwise run to the end."""
        text = self.text
        kinds, texts = self.tokens.kinds, self.tokens.texts
        add_kind, add_text = kinds.append, texts.append
        simple, operators = _SIMPLE, _OPERATORS
        depth = 0  # braces opened inside this template sequence
        while True:  # one pass of finditer per stretch of code between strings/heredocs
            for m in _MAIN.finditer(text, pos):
                group = m.lastgroup
                kind = simple.get(group)
                if kind is not None:
                    add_kind(kind)
                    add_text(m.group(group))
                    continue
                if group == "op":
                    op = m.group(group)
                    add_kind(operators[op])
                    add_text(op)
                    continue
                if group == "str":
                    string = m.group(group)
                    add_kind(OQUOTE)
                    add_text('"')
                    if len(string) > 2:
                        add_kind(QUOTEDLIT)
                        add_text(string[1:-1])
                    add_kind(CQUOTE)
                    add_text('"')
                    continue
                start = m.start(group)
                if group == "br":
                    br = m.group(group)
                    if br == "{":
                        depth += 1
                        self.open.append(("{", start))
                        add_kind(OBRACE)
                    elif br == "}" or br == "~}":
                        if interp and depth == 0:
                            add_kind(SEQEND)
                            add_text(br)
                            self.close("}", start)
                            return m.end()
                        if br == "~}":
                            self.fail(start, "Unexpected \"~}\"",
                                      "\"~}\" can only close a template sequence (\"${~\" or \"%{~\").")
                        depth -= 1
                        self.close("}", start)
                        add_kind(CBRACE if br == "}" else SEQEND)
                    elif br == "(" or br == "[":
                        self.open.append((br, start))
                        add_kind(ord(br))
                    else:
                        self.close(br, start)
                        add_kind(ord(br))
                    add_text(br)
                    continue
                if group == "uid":
                    end = _ident_end(text, start, m.end())
                    if end == start:  # not an identifier character at all
                        self.fail(start, "Invalid character", "This character is not used within the language.")
                        pos = start + 1
                    else:
                        add_kind(IDENT)
                        add_text(text[start:end])
                        pos = end
                    break  # resume after what was really taken
                if group == "quote":
                    add_kind(OQUOTE)
                    add_text('"')
                    pos = self.quoted(m.end(), start)
                    break
                if group == "hd":
                    opener = m.group(group)
                    add_kind(OHEREDOC)
                    add_text(opener)
                    marker = opener[2:].rstrip("\r\n")
                    pos = self.heredoc(m.end(), start, marker[1:] if marker[0] == "-" else marker)
                    break
                if group == "end":
                    if not interp:
                        self.tokens.trailing_spaces = start - m.start()
                    return len(text)  # inside a template sequence: reported as its unclosed "${"
                # bad
                pos = self.bad(start)
                break

    def bad(self, pos: int) -> int:
        """Report what cannot start a token at `pos`; return where to carry on."""
        text = self.text
        ch = text[pos]
        if text.startswith("/*", pos):
            self.fail(pos, "Unterminated comment", "This \"/*\" comment has no closing \"*/\".")
            return len(text)
        if text.startswith("<<", pos):
            self.fail(pos, "Invalid heredoc introducer",
                      "A heredoc starts with <<EOT or <<-EOT, with the newline right after the marker.")
            return pos + 2
        if ch in _REJECTED:
            self.fail(pos, "Unsupported operator" if ch in "&|~^" else "Invalid character", _REJECTED[ch])
        elif ch == "\r":
            self.fail(pos, "Invalid character",
                      "A carriage return must be followed by a newline (use LF or CRLF line endings).")
        else:
            self.fail(pos, "Invalid character", "This character is not used within the language.")
        return pos + 1

    def quoted(self, pos: int, opened_at: int) -> int:
        """The inside of a quoted string, after its opening quote; returns the offset after it."""
        text, n = self.text, len(self.text)
        match = _QUOTED.match
        while pos < n:
            m = match(text, pos)
            group = m.lastgroup
            end = m.end()
            if group == "lit":
                self.emit(QUOTEDLIT, pos, end)
            elif group == "end":
                self.emit(CQUOTE, pos, end)
                return end
            elif group == "seq":
                self.emit(INTERP if text[pos] == "$" else CONTROL, pos, end)
                self.open.append((text[pos:pos + 2], pos))
                end = self.main(end, interp=True)
            elif group == "nl":
                self.fail(opened_at, "Unterminated string",
                          "This string has no closing quote on its line. Quoted strings may not be split "
                          "over multiple lines: use the \\n escape or a heredoc (<<EOT).")
                return pos  # carry on with the next line as code
            else:  # a backslash at the end of the line
                self.emit(QUOTEDLIT, pos, end)
            pos = end
        self.fail(opened_at, "Unterminated string", "The file ends before this string's closing quote.")
        return n

    def heredoc(self, pos: int, opened_at: int, marker: str) -> int:
        """The lines of a heredoc after its opener; returns the offset after the closing newline."""
        text, n = self.text, len(self.text)
        match = _HEREDOC.match
        start_of_line = True
        while pos < n:
            m = match(text, pos)
            lit, eol = m.group(1), m.group(2)
            end = m.end()
            if eol is not None:
                if start_of_line and lit.strip() == marker:
                    self.emit(CHEREDOC, pos, pos + len(lit))
                    self.emit(NEWLINE, pos + len(lit), end)
                    return end
                self.emit(STRINGLIT, pos, end)
                start_of_line = True
                pos = end
                continue
            if lit:
                self.emit(STRINGLIT, pos, end)
                start_of_line = False
                pos = end
            if pos >= n:
                break
            if text[pos] == "\r":
                self.fail(pos, "Invalid character",
                          "A carriage return must be followed by a newline (use LF or CRLF line endings).")
                pos += 1
                continue
            # a template sequence: ${ or %{
            seq_end = pos + 3 if text.startswith("~", pos + 2) else pos + 2
            self.emit(INTERP if text[pos] == "$" else CONTROL, pos, seq_end)
            self.open.append((text[pos:pos + 2], pos))
            start_of_line = False
            pos = self.main(seq_end, interp=True)
        self.fail(opened_at, "Unterminated heredoc",
                  f"No line consisting of \"{marker}\" (followed by a newline) ends the heredoc begun here.")
        return n
