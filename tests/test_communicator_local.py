"""The local communicator: real processes in a real image root."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
import time
import uuid

import pytest

from releasemgr.pipeline.communicator import (Communicator, CommunicatorCancelled, CommunicatorError,
                                              LocalCommunicator, upload_target)
from releasemgr.pipeline.communicator.base import CancelSignal, upload_size


@pytest.fixture
def comm(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with LocalCommunicator(root) as c:
        yield c


def run(comm: Communicator, command: str, **kw):
    events: list[tuple[str, str]] = []
    code = comm.run(command, on_stdout=lambda l: events.append(("out", l)),
                    on_stderr=lambda l: events.append(("err", l)), **kw)
    return code, events


def test_importing_the_package_does_not_import_paramiko():
    code = ("import sys, releasemgr.pipeline.communicator as c; "
            "assert 'paramiko' not in sys.modules, 'paramiko imported'; "
            "c.SSHConfig(host='h'); print('paramiko' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # even SSHConfig is cheap: paramiko loads on connect


def test_run_exit_codes_cwd_env_and_image_root(comm):
    code, events = run(comm, 'echo "$PWD"; echo "$IMAGE_ROOT"; echo "$GREETING"; exit 7',
                       env={"GREETING": "hi 'there'"})
    assert code == 7
    assert events == [("out", str(comm.root)), ("out", str(comm.root)), ("out", "hi 'there'")]
    assert comm.run("true") == 0
    assert comm.run("false") == 1


def test_lines_stream_as_they_come_in_order(comm):
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    code = comm.run("echo one; sleep 0.6; echo two >&2; echo 'no newline at end' | tr -d '\\n'",
                    on_stdout=lambda l: seen.append((time.monotonic() - start, "out:" + l)),
                    on_stderr=lambda l: seen.append((time.monotonic() - start, "err:" + l)))
    assert code == 0
    assert [s for _, s in seen] == ["out:one", "err:two", "out:no newline at end"]
    assert seen[1][0] - seen[0][0] >= 0.4  # "one" arrived before the command finished


def test_invalid_utf8_and_crlf_do_not_break_lines(comm):
    code, events = run(comm, r"printf 'caf\351\r\nok\n'")
    assert code == 0
    assert events == [("out", "caf\ufffd"), ("out", "ok")]


def test_timeout_kills_the_whole_process_group(comm):
    marker = f"sleep 31.{uuid.uuid4().int % 10**6}"
    start = time.monotonic()
    with pytest.raises(CommunicatorError, match="timed out after 0.5s"):
        comm.run(f"echo start; {marker}; echo never", timeout=0.5)
    assert time.monotonic() - start < 3
    assert _pgrep(marker) == ""


def test_cancel_from_another_thread_kills_children(comm):
    marker = f"sleep 32.{uuid.uuid4().int % 10**6}"
    lines: list[str] = []
    started = threading.Event()

    def on_line(line):
        lines.append(line)
        started.set()

    result: dict = {}

    def worker():
        try:
            comm.run(f"echo started; ( {marker} ); echo never", on_stdout=on_line)
        except CommunicatorCancelled as e:
            result["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(5)
    t0 = time.monotonic()
    comm.cancel()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    assert "cancelled" in str(result["error"])
    assert lines == ["started"]
    assert _pgrep(marker) == ""
    # cancel is sticky until reset: the runner does not start the next step by accident
    with pytest.raises(CommunicatorCancelled):
        comm.run("true")
    comm.reset_cancel()
    assert comm.run("true") == 0


def test_upload_and_download_files_and_directories(comm, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.sh").write_text("#!/bin/sh\necho b\n")
    os.chmod(src / "sub" / "b.sh", 0o755)
    os.symlink("a.txt", src / "link")

    comm.upload(str(src) + "/", "contents")            # trailing "/": the contents go into the target
    comm.upload(str(src), "itself")                    # no "/": the directory is created inside the target
    comm.upload(src / "a.txt", "files/")               # a target ending in "/" keeps the file's name
    comm.upload(src / "a.txt", "files/renamed.txt")
    assert (comm.root / "contents" / "sub" / "b.sh").read_text() == "#!/bin/sh\necho b\n"
    assert os.access(comm.root / "contents" / "sub" / "b.sh", os.X_OK)
    assert os.readlink(comm.root / "contents" / "link") == "a.txt"
    assert (comm.root / "itself" / "src" / "a.txt").read_text() == "A"
    assert (comm.root / "files" / "a.txt").read_text() == "A"
    assert (comm.root / "files" / "renamed.txt").read_text() == "A"
    assert comm.run("test -x contents/sub/b.sh && test -f itself/src/sub/b.sh") == 0  # cwd is the root

    comm.upload_bytes(b"secret\n", "etc/app.conf", mode=0o600)
    assert (comm.root / "etc" / "app.conf").read_bytes() == b"secret\n"
    assert (comm.root / "etc" / "app.conf").stat().st_mode & 0o777 == 0o600

    out = tmp_path / "out"
    comm.download("contents/", str(out) + "/")
    assert (out / "sub" / "b.sh").exists() and (out / "a.txt").read_text() == "A"
    comm.download("contents", str(tmp_path / "out2"))
    assert (tmp_path / "out2" / "contents" / "a.txt").read_text() == "A"
    comm.download(str(comm.root / "etc" / "app.conf"), str(tmp_path / "app.conf"))  # absolute remote path
    assert (tmp_path / "app.conf").read_bytes() == b"secret\n"


def test_missing_source_is_one_clear_error(comm, tmp_path):
    with pytest.raises(CommunicatorError, match=r"upload source .*nope does not exist"):
        comm.upload(tmp_path / "nope", "x")
    with pytest.raises(CommunicatorError, match=r"download source .*nope does not exist"):
        comm.download("nope", str(tmp_path / "x"))


def test_upload_target_follows_packers_rule(tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    (tmp_path / "f").write_text("")
    assert upload_target(str(d) + "/", "/opt/app") == (True, "/opt/app")
    assert upload_target(str(d), "/opt/app") == (True, "/opt/app/dir")
    assert upload_target(str(tmp_path / "f"), "/etc/") == (False, "/etc/f")
    assert upload_target(str(tmp_path / "f"), "/etc/g") == (False, "/etc/g")


def test_invalid_env_name_is_refused(comm):
    from releasemgr.pipeline.communicator.base import env_prefix

    assert env_prefix({"A_1": "x y"}) == "export A_1='x y'\n"
    with pytest.raises(CommunicatorError, match="invalid environment variable name"):
        env_prefix({"1A; rm -rf /": "x"})


def _pgrep(pattern: str) -> str:
    time.sleep(0.1)
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.strip()


def test_huge_output_streams_every_line(comm):
    lines: list[str] = []
    code = comm.run("seq 1 100000; head -c 3000000 /dev/zero | tr '\\0' x", on_stdout=lines.append)
    assert code == 0
    assert len(lines) == 100001 and lines[0] == "1" and lines[99999] == "100000"
    assert lines[-1] == "x" * 3000000  # one 3 MB line without a newline, delivered at the end


def test_errors_carry_the_failed_exit_status_for_the_cli():
    from releasemgr.errors import ExitStatus, OperationFailed

    err = CommunicatorError("10.0.0.5:22: upload failed", "check the disk")
    assert isinstance(err, OperationFailed) and err.status == ExitStatus.FAILED
    assert str(err) == "10.0.0.5:22: upload failed (check the disk)"
    assert err.to_json()["hint"] == "check the disk"


def test_the_cancel_signal_wakes_a_select_loop_and_reset_rearms_it():
    sig = CancelSignal()
    with selectors.DefaultSelector() as sel:
        sel.register(sig, selectors.EVENT_READ)
        assert sel.select(0) == []
        sig.set()
        assert sel.select(0) and sig.is_set()
        with pytest.raises(CommunicatorCancelled, match="upload cancelled"):
            sig.check("upload")
        sig.clear()
        assert sel.select(0) == [] and not sig.is_set()
    sig.close()
    sig.close()
    sig.set()  # after close: no error, and no write to a recycled descriptor


def test_uploads_report_their_bytes_as_they_go(comm, tmp_path):
    """`upload(progress=…)` hears (done, total) bytes of file content, for a file and a folder
    (a symbolic link counts nothing); the last count is the whole upload."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "big.bin").write_bytes(os.urandom((3 << 20) + 11))
    (src / "sub" / "small.txt").write_text("x" * 1000)
    os.symlink("big.bin", src / "link")
    total = (3 << 20) + 11 + 1000
    assert upload_size(src) == total and upload_size(src / "big.bin") == (3 << 20) + 11
    for local, remote, size in ((src / "big.bin", "one.bin", (3 << 20) + 11), (str(src) + "/", "tree", total)):
        calls: list[tuple[int, int]] = []
        comm.upload(local, remote, progress=lambda done, total: calls.append((done, total)))
        dones = [d for d, _ in calls]
        assert {t for _, t in calls} == {size} and dones == sorted(dones) and dones[-1] == size, calls
        assert len(calls) >= 4, "a 3 MiB copy reports chunk by chunk"
    assert (comm.root / "tree" / "sub" / "small.txt").read_text() == "x" * 1000
