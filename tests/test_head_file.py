"""The head file beside a SQLite ledger (docs/audit.md#head-file): written by every commit
that appended events, from several threads and processes at once, never moved back, and a
head file that cannot be written is a warning in the output contract, not a failure."""

from __future__ import annotations

import json
import multiprocessing
import threading

from releasemgr.ledger.audit import read_head_file, write_head_file

HASH = "ab" * 32


def _write_many(path, seqs) -> list[str]:
    return [p for p in (write_head_file(path, f"{s}:{HASH}") for s in seqs) if p]


def test_threads_and_processes_writing_at_once_leave_the_newest_head(tmp_path, capfd):
    """Eight threads of one process and two more processes replace the head file together:
    no writer trips over another's temporary file (they were named by process only), and the
    file ends at the newest event."""
    path = tmp_path / "ledger.db.head"
    problems: list[str] = []
    threads = [threading.Thread(target=lambda i=i: problems.extend(_write_many(path, range(i, 400, 8))))
               for i in range(8)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, range(1000 + i, 1200, 2))) for i in range(2)]
    for t in [*procs, *threads]:  # the processes fork first: forking a process with threads is unsafe
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert problems == [] and capfd.readouterr().err == ""
    assert read_head_file(path) == (1199, HASH)
    assert write_head_file(path, f"7:{HASH}") is None and read_head_file(path) == (1199, HASH), "never back"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.db.head", "ledger.db.head.lock"]


def test_a_head_file_that_cannot_be_written_is_a_json_warning_under_json(cli, tmp_path):
    """The change is committed and the command succeeds; the warning keeps stderr JSON Lines."""
    cli.ok("register", "web", "--artifact", "local:sha256:" + "1" * 64)
    head = tmp_path / "state" / "ledger.db.head"
    if not head.exists():  # a PostgreSQL ledger keeps its head inside the database
        assert "postgresql" in cli.env.get("RELEASE_LEDGER", "")
        return
    head.unlink()
    head.mkdir()  # as root, permissions would not stop the write: a folder in its place does
    r = cli("register", "web", "--artifact", "local:sha256:" + "2" * 64, "--json")
    assert r.code == 0, r
    lines = [json.loads(x) for x in r.err.splitlines()]
    assert lines == [{"type": "warning", "message": f"cannot write the audit head file {head}: "
                      "Is a directory"}], r.err
    assert json.loads(r.out)["version"] == "v2"
    r = cli("register", "web", "--artifact", "local:sha256:" + "3" * 64)
    assert r.code == 0 and f"warning: cannot write the audit head file {head}" in r.err, r
