"""Audit text that cannot forge rows (issue 15, item 5).

A reason, actor, ticket or artifact id is the user's text: in table and text output every
control character is escaped (`\\n`, `\\r`, `\\x1b`, `\\u2028` ...), so a crafted value stays
inside its own row; `--format csv` keeps the exact value with RFC 4180 quoting (a CSV reader
sees one record per event) and JSON the exact value. Through the real CLI, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json

from releasemgr.ui import Ui, escape_controls

# What a forger would type: end the row, then draw a promotion of v666 by "eve" that never happened.
FAKE_ROW = "99   2026-01-01T00:00:00  eve    promote  web    v666     prod  CHG-1   approved"
REASON = f"hotfix\n{FAKE_ROW}"
TICKET = "CHG-7\r\x1b[2K" + FAKE_ROW  # carriage return + "erase line": overwrite the row on a terminal
ACTOR = "mallory\u2028" + FAKE_ROW  # a Unicode line separator
ARTIFACT = "aws:us-east-1:ami-1\x85" + FAKE_ROW  # NEL, a C1 line break


def _forged(out: str) -> list[str]:
    """Lines of `out` that start with the fake row (i.e. a row the forger drew)."""
    return [line for line in out.splitlines() if line.lstrip().startswith("99 ") or line.startswith(FAKE_ROW)]


def _prepare(cli):
    cli.ok("register", "web", "--artifact", ARTIFACT)
    cli.ok("promote", "web@v1", "--to", "dev", "--reason", REASON, "--ticket", TICKET, actor=ACTOR)


def test_escape_controls_covers_every_line_break_and_terminal_control():
    assert escape_controls("a\nb") == "a\\nb"
    assert escape_controls("a\rb\tc") == "a\\rb\\tc"
    assert escape_controls("\x00\x1b[31m\x7f\x85\x9f") == "\\x00\\x1b[31m\\x7f\\x85\\x9f"
    assert escape_controls("x\u2028y\u2029z\u202ew\u2066") == "x\\u2028y\\u2029z\\u202ew\\u2066"
    plain = "CHG-1 déjà vu 🙂 ümlaut, quotes \" ' and a \\ backslash"
    assert escape_controls(plain) == plain  # printable text is left alone
    # whatever a value holds, its escaped form has no line break of any kind
    every = "".join(map(chr, range(0x00, 0xA0))) + "\u2028\u2029\u200e\u200f\u202a\u202e\u2066\u2069"
    assert len(escape_controls(every).splitlines()) == 1


def test_every_table_escapes_its_cells():
    text = Ui().table(["a", "b"], [["x\ny", "1"], ["z", "w\r\x1b[2K"]])
    assert text.splitlines() == ["A     B", "x\\ny  1", "z     w\\r\\x1b[2K"]


def test_audit_table_shows_one_row_per_event(cli):
    _prepare(cli)
    events = cli.json("audit")["events"]
    out = cli.ok("audit").out
    lines = out.splitlines()
    assert len(lines) == 1 + len(events), out  # the header and one line per event, nothing more
    assert not _forged(out), out
    assert "\r" not in out and "\x1b" not in out and "\u2028" not in out and "\x85" not in out
    promote = next(line for line in lines if " promote " in line)
    # the whole crafted text is on the promotion's own line, escaped
    assert "hotfix\\n99   2026-01-01" in promote and "CHG-7\\r\\x1b[2K99" in promote
    assert "mallory\\u202899" in promote


def test_history_and_show_show_one_row(cli):
    _prepare(cli)
    cli.ok("revoke", "web@v1", "--reason", REASON, "--ticket", TICKET)
    out = cli.ok("history", "web").out
    assert len(out.splitlines()) == 2 and not _forged(out), out
    assert "hotfix\\n99" in out and "mallory\\u202899" in out
    show = cli.ok("show", "web@v1").out
    assert not _forged(show) and "\x85" not in show and "\u2028" not in show, show
    assert "revoked:" in show and "hotfix\\n99" in show and "ami-1\\x8599" in show
    versions = cli.ok("versions", "web").out
    assert len(versions.splitlines()) == 2 and not _forged(versions), versions


def test_csv_keeps_exact_values_and_a_reader_sees_one_record_per_event(cli):
    _prepare(cli)
    events = cli.json("audit")["events"]
    out = cli.ok("audit", "--format", "csv").out
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert len(rows) == 1 + len(events)
    assert rows[0] == ["seq", "at", "actor", "action", "image", "version", "env", "ticket", "reason", "details",
                       "hash"]
    assert all(len(r) == 11 for r in rows)
    promote = next(r for r in rows if r[3] == "promote")
    assert promote[2] == ACTOR and promote[7] == TICKET and promote[8] == REASON  # exact, not escaped
    assert [r[0] for r in rows[1:]] == [str(e["seq"]) for e in events]
    assert out.endswith("\r\n") and f'"{REASON}"' in out  # RFC 4180: CRLF records, the field quoted


def test_json_round_trips_the_exact_value(cli):
    _prepare(cli)
    promote = next(e for e in cli.json("audit")["events"] if e["action"] == "promote")
    assert (promote["reason"], promote["ticket"], promote["actor"]) == (REASON, TICKET, ACTOR)
    history = cli.json("history", "web")["history"][0]
    assert (history["reason"], history["ticket"], history["actor"]) == (REASON, TICKET, ACTOR)
    raw = cli.ok("audit", "--format", "json").out
    assert "\n99 " not in raw and json.loads(raw)["events"][-1]["reason"] == REASON
    assert cli.json("show", "web@v1")["artifacts"][0]["id"] == ARTIFACT.split(":", 2)[2]
