"""The ssh communicator against a real OpenSSH sshd on a loopback port.

The "remote" host is this machine, so the tests check remote files directly on disk and
remote processes with pgrep."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from releasemgr.pipeline.communicator import CommunicatorCancelled, CommunicatorError, SSHCommunicator, SSHConfig
from releasemgr.pipeline.communicator.base import upload_size
from releasemgr.pipeline.communicator.ssh import from_packer_options
from releasemgr.template.schema import duration_seconds, schema_for
from sshd_fixture import Sshd, free_port, keygen


def config_for(server: Sshd, **kw) -> SSHConfig:
    base = dict(host=server.host, port=server.port, username=server.username, private_key_file=str(server.client_key),
                known_hosts_file=str(server.known_hosts), agent_auth=False, timeout=10, connect_timeout=5)
    base.update(kw)
    return SSHConfig(**base)


def connect(server: Sshd, **kw) -> tuple[SSHCommunicator, list[str]]:
    info: list[str] = []
    comm = SSHCommunicator(config_for(server, **kw), on_info=info.append)
    comm.connect()
    return comm, info


def run(comm, command: str, **kw):
    events: list[tuple[str, str]] = []
    code = comm.run(command, on_stdout=lambda l: events.append(("out", l)),
                    on_stderr=lambda l: events.append(("err", l)), **kw)
    return code, events


def pgrep(pattern: str) -> str:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.strip()


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under root: files by content and mode, links by target, dirs by mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = f"dir:{p.stat().st_mode & 0o777:o}"
        else:
            out[rel] = f"{p.stat().st_mode & 0o777:o}:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def make_tree(root: Path, files: int = 60) -> Path:
    (root / "empty").mkdir(parents=True)
    for i in range(files):
        d = root / f"d{i % 7}" / f"s{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_bytes(os.urandom(i * 97 % 5000))
    (root / "run.sh").write_text("#!/bin/sh\necho ran\n")
    os.chmod(root / "run.sh", 0o750)
    (root / "name with spaces 'quoted'.txt").write_text("x")
    os.symlink("run.sh", root / "link-to-run")
    return root


# -- commands ------------------------------------------------------------------------------

def test_key_auth_exit_codes_env_and_host_key_info(sshd):
    comm, info = connect(sshd)
    with comm:
        assert info[0] == "Waiting for SSH to become available..."
        assert info[-1] == "Connected to SSH!"
        assert any("verified against" in line and str(sshd.known_hosts) in line for line in info)
        assert comm.host_key_fingerprint and comm.host_key_fingerprint.startswith("SHA256:")
        keygen_fp = subprocess.run(["ssh-keygen", "-lf", str(sshd.host_key) + ".pub"], capture_output=True,
                                   text=True, check=True).stdout.split()[1]
        assert comm.host_key_fingerprint == keygen_fp

        code, events = run(comm, 'echo "$GREETING"; echo "$EMPTY|$WEIRD"; whoami; exit 42',
                           env={"GREETING": "hello world", "EMPTY": "", "WEIRD": "it's $HOME `x` \"q\""})
        assert code == 42
        assert events == [("out", "hello world"), ("out", "|it's $HOME `x` \"q\""), ("out", sshd.username)]
        assert comm.run("true") == 0
        assert comm.run("exit 255") == 255
        code, events = run(comm, "cat")  # no stdin: reads EOF instead of hanging
        assert (code, events) == (0, [])


def test_lines_stream_in_order_as_they_come(sshd):
    comm, _ = connect(sshd)
    seen: list[tuple[float, str]] = []
    with comm:
        start = time.monotonic()
        code = comm.run("echo one; echo err1 >&2; sleep 0.7; for i in 1 2 3; do echo line$i; done; "
                        "printf 'partial'",
                        on_stdout=lambda l: seen.append((time.monotonic() - start, "out:" + l)),
                        on_stderr=lambda l: seen.append((time.monotonic() - start, "err:" + l)))
    assert code == 0
    lines = [s for _, s in seen]
    assert lines[2:] == ["out:line1", "out:line2", "out:line3", "out:partial"]
    assert sorted(lines[:2]) == ["err:err1", "out:one"]
    assert seen[2][0] - max(t for t, _ in seen[:2]) >= 0.5  # streamed as they came, not collected at the end


def test_pty_mode_runs_commands(sshd):
    comm, _ = connect(sshd, pty=True)
    with comm:
        code, events = run(comm, "test -t 1 && echo tty; exit 3")
    assert (code, events) == (3, [("out", "tty")])


def test_command_timeout_kills_remote_process_group(sshd):
    marker = f"sleep 41.{uuid.uuid4().int % 10**6}"
    comm, _ = connect(sshd)
    with comm:
        start = time.monotonic()
        with pytest.raises(CommunicatorError, match=r"127\.0\.0\.1:\d+: command timed out after 1s"):
            comm.run(f"echo start; {marker}; echo never", timeout=1)
        assert time.monotonic() - start < 3
        time.sleep(0.2)
        assert pgrep(marker) == ""
        assert comm.run("true") == 0  # the connection is still usable


def test_cancel_during_long_command_returns_fast_and_kills_it(sshd):
    marker = f"sleep 42.{uuid.uuid4().int % 10**6}"
    comm, _ = connect(sshd)
    started = threading.Event()
    result: dict = {}

    def worker():
        try:
            result["code"] = comm.run(f"echo started; {marker}; echo never",
                                      on_stdout=lambda l: started.set())
        except CommunicatorCancelled as e:
            result["error"] = e

    with comm:
        t = threading.Thread(target=worker)
        t.start()
        assert started.wait(10)
        assert pgrep(marker) != ""
        t0 = time.monotonic()
        comm.cancel()
        t.join(5)
        assert not t.is_alive() and time.monotonic() - t0 < 2
        assert isinstance(result.get("error"), CommunicatorCancelled), result
        time.sleep(0.2)
        assert pgrep(marker) == ""
        comm.reset_cancel()
        assert comm.run("true") == 0


# -- files ---------------------------------------------------------------------------------

def test_large_file_upload_and_download_keep_every_byte(sshd, tmp_path):
    data = os.urandom((24 << 20) + 12345)  # not a multiple of any request size
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    os.chmod(src, 0o640)
    comm, _ = connect(sshd)
    with comm:
        comm.upload(src, str(tmp_path / "remote" / "big.bin"))  # missing parent folders are created
        assert hashlib.sha256((tmp_path / "remote" / "big.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
        assert (tmp_path / "remote" / "big.bin").stat().st_mode & 0o777 == 0o640
        comm.download(str(tmp_path / "remote" / "big.bin"), str(tmp_path / "back") + "/")
        assert hashlib.sha256((tmp_path / "back" / "big.bin").read_bytes()).digest() == hashlib.sha256(data).digest()

        comm.upload_bytes(b"token=abc\n", str(tmp_path / "remote" / "conf"), mode=0o600)
        assert (tmp_path / "remote" / "conf").read_bytes() == b"token=abc\n"
        assert (tmp_path / "remote" / "conf").stat().st_mode & 0o777 == 0o600
        comm.upload_bytes(b"", str(tmp_path / "remote" / "empty"))
        assert (tmp_path / "remote" / "empty").read_bytes() == b""

        comm.upload(src, "big-in-home.bin")  # relative remote paths are relative to the login directory
        home = Path(os.path.expanduser("~" + sshd.username))
        try:
            assert (home / "big-in-home.bin").stat().st_size == len(data)
        finally:
            (home / "big-in-home.bin").unlink()


@pytest.mark.parametrize("method", ["tar", "sftp", "auto"])
def test_directory_upload_and_download(sshd, tmp_path, method):
    src = make_tree(tmp_path / "src")
    comm, _ = connect(sshd, directory_transfer=method)
    with comm:
        comm.upload(str(src) + "/", str(tmp_path / "contents"))  # "src/": its contents go into the target
        assert comm.last_directory_transfer == ("tar" if method == "auto" else method)
        comm.upload(str(src), str(tmp_path / "inside"))          # "src": the folder is created inside
        assert tree_digest(tmp_path / "contents") == tree_digest(src)
        assert tree_digest(tmp_path / "inside" / "src") == tree_digest(src)
        code, events = run(comm, f"{tmp_path}/contents/run.sh")
        assert (code, events) == (0, [("out", "ran")])

        comm.download(str(tmp_path / "contents") + "/", str(tmp_path / "down"))
        assert tree_digest(tmp_path / "down") == tree_digest(src)
        comm.download(str(tmp_path / "contents"), str(tmp_path / "down2"))
        assert tree_digest(tmp_path / "down2" / "contents") == tree_digest(src)


def test_auto_falls_back_to_sftp_per_file_when_the_host_has_no_tar(sshd, tmp_path):
    src = make_tree(tmp_path / "src", files=10)
    comm, _ = connect(sshd, remote_tar="no-such-tar")  # as on a host without tar
    with comm:
        comm.upload(str(src) + "/", str(tmp_path / "dest"))
        assert comm.last_directory_transfer == "sftp"
        assert tree_digest(tmp_path / "dest") == tree_digest(src)
        comm.download(str(tmp_path / "dest"), str(tmp_path / "back"))
        assert tree_digest(tmp_path / "back" / "dest") == tree_digest(src)
    with pytest.raises(CommunicatorError, match="directory_transfer = tar, but the host has no no-such-tar"):
        with SSHCommunicator(config_for(sshd, directory_transfer="tar", remote_tar="no-such-tar")) as comm:
            comm.upload(str(src), str(tmp_path / "x"))


def test_transfer_errors_are_one_clear_message(sshd, tmp_path):
    comm, _ = connect(sshd)
    with comm:
        with pytest.raises(CommunicatorError, match=r"download source /nonexistent/x does not exist") as e:
            comm.download("/nonexistent/x", str(tmp_path / "x"))
        assert "Traceback" not in str(e.value)
        (tmp_path / "f").write_text("x")
        (tmp_path / "ro").mkdir()
        with pytest.raises(CommunicatorError, match=r"127\.0\.0\.1:\d+: upload of .* failed"):
            comm.upload(tmp_path / "f", "/proc/not-writable/f")


# -- host keys -----------------------------------------------------------------------------

def test_pinned_host_key_is_accepted_and_a_different_one_refused(sshd, tmp_path):
    comm, info = connect(sshd, known_hosts_file=None, host_key=sshd.host_key_line)
    with comm:
        assert comm.run("true") == 0
    assert any("matches the key the builder learned" in line for line in info)

    other = keygen(tmp_path / "other_host_key")
    other_line = " ".join(Path(str(other) + ".pub").read_text().split()[:2])
    comm = SSHCommunicator(config_for(sshd, known_hosts_file=None, host_key=other_line))
    with pytest.raises(CommunicatorError, match="host key verification failed") as e:
        comm.connect()
    assert comm.host_key_fingerprint in str(e.value) and "nothing was sent" in str(e.value)


def test_wrong_known_hosts_entry_is_refused_clearly(sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    bad = tmp_path / "known_hosts_bad"
    bad.write_text(f"[127.0.0.1]:{sshd.port} " + Path(str(other) + ".pub").read_text())
    comm = SSHCommunicator(config_for(sshd, known_hosts_file=str(bad)))
    start = time.monotonic()
    with pytest.raises(CommunicatorError) as e:
        comm.connect()
    assert time.monotonic() - start < 3  # a wrong key is not retried
    msg = str(e.value)
    assert f"127.0.0.1:{sshd.port}" in msg and "does not match" in msg and str(bad) in msg
    assert comm.host_key_fingerprint in msg

    unknown = tmp_path / "known_hosts_empty"
    unknown.write_text("")
    with pytest.raises(CommunicatorError, match=r"is not in .*known_hosts_empty.*ssh-keyscan"):
        SSHCommunicator(config_for(sshd, known_hosts_file=str(unknown))).connect()


def test_no_host_key_policy_says_how_to_configure_one(sshd):
    with pytest.raises(CommunicatorError) as e:
        SSHCommunicator(config_for(sshd, known_hosts_file=None)).connect()
    msg = str(e.value)
    assert "no way to check the host key" in msg
    assert "known_hosts" in msg and "trust_on_first_use" in msg


def test_trust_on_first_use_accepts_once_and_refuses_a_changed_key(tmp_path):
    server = Sshd(tmp_path / "a").start()
    try:
        comm, info = connect(server, known_hosts_file=None, trust_on_first_use=True)
        assert any("Trusting host key" in line and "on first use" in line for line in info)
        assert comm.learned_host_key == server.host_key_line
        comm.close()
        assert comm.run("true") == 0  # reconnects (after a reboot, say) and sees the same key
        comm.close()
        server.stop()
        # another host answers on the same address, with another key
        impostor = Sshd(tmp_path / "b", port=server.port, client_key=server.client_key).start()
        try:
            with pytest.raises(CommunicatorError, match="trusted .* on first use"):
                comm.run("true")
        finally:
            impostor.stop()
    finally:
        server.stop()


# -- connecting --------------------------------------------------------------------------------

def test_retries_while_the_host_boots(tmp_path):
    server = Sshd(tmp_path / "late")
    server.known_hosts.write_text(f"[127.0.0.1]:{server.port} {server.host_key_line}\n")
    timer = threading.Timer(1.5, server.start, kwargs={"keyscan": False})
    timer.start()
    try:
        start = time.monotonic()
        comm, info = connect(server, timeout=20)
        with comm:
            assert time.monotonic() - start >= 1.4
            assert comm.run("echo up", on_stdout=info.append) == 0
        assert info[0] == "Waiting for SSH to become available..." and info[-1] == "up"
    finally:
        timer.join()
        server.stop()


def test_clear_timeout_when_ssh_never_comes_up(tmp_path):
    port = free_port()
    comm = SSHCommunicator(SSHConfig(host="127.0.0.1", port=port, private_key_file="/nonexistent",
                                     known_hosts_file="/nonexistent", timeout=1.5))
    start = time.monotonic()
    with pytest.raises(CommunicatorError) as e:
        comm.connect()
    assert 1.4 <= time.monotonic() - start < 4
    msg = str(e.value)
    assert f"timed out after 1.5s waiting for SSH on 127.0.0.1:{port}" in msg and "connection refused" in msg


def test_a_port_that_is_not_ssh_fails_after_the_handshake_attempts(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        port = listener.getsockname()[1]
        comm = SSHCommunicator(SSHConfig(host="127.0.0.1", port=port, known_hosts_file="/dev/null",
                                         handshake_attempts=2, timeout=30, connect_timeout=3))
        with pytest.raises(CommunicatorError, match=r"SSH handshake failed.*\(2 attempts\)"):
            comm.connect()
    finally:
        stop.set()
        t.join()
        listener.close()


def test_wrong_key_and_wrong_password_fail_without_leaking_secrets(tmp_path):
    server = Sshd(tmp_path / "pw", extra_config="PasswordAuthentication yes").start()
    try:
        stranger = keygen(tmp_path / "stranger")
        secret = "s3cret-Pa55word"
        info: list[str] = []
        comm = SSHCommunicator(config_for(server, private_key_file=str(stranger), password=secret,
                                          handshake_attempts=2), on_info=info.append)
        with pytest.raises(CommunicatorError) as e:
            comm.connect()
        msg = str(e.value)
        assert f"SSH authentication failed for {server.username}@127.0.0.1:{server.port}" in msg
        assert "publickey" in msg and "password" in msg and "(2 attempts)" in msg
        assert secret not in msg and secret not in repr(comm.config) and not any(secret in i for i in info)
        assert stranger.read_text().splitlines()[1] not in msg
        server.add_authorized_key(Path(str(stranger) + ".pub").read_text())  # now the key is welcome
        with SSHCommunicator(config_for(server, private_key_file=str(stranger))) as comm:
            assert comm.run("true") == 0
    finally:
        server.stop()


def test_missing_or_encrypted_private_key_is_a_clear_error(sshd, tmp_path):
    with pytest.raises(CommunicatorError, match="private key file /nonexistent/key does not exist"):
        SSHCommunicator(config_for(sshd, private_key_file="/nonexistent/key")).connect()
    enc = tmp_path / "enc"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "passphrase", "-f", str(enc)], check=True)
    with pytest.raises(CommunicatorError, match="is encrypted"):
        SSHCommunicator(config_for(sshd, private_key_file=str(enc))).connect()


def test_bastion_forwards_through_a_direct_tcpip_channel(sshd, tmp_path):
    bastion = Sshd(tmp_path / "bastion", client_key=sshd.client_key).start()
    try:
        known = tmp_path / "known_hosts_both"
        known.write_text(bastion.known_hosts.read_text() + sshd.known_hosts.read_text())
        comm, info = connect(sshd, known_hosts_file=str(known), bastion_host=bastion.host, bastion_port=bastion.port)
        with comm:
            assert f"via 127.0.0.1:{bastion.port}" in comm.where
            code, events = run(comm, "echo through; echo $SSH_CONNECTION")
            assert code == 0 and events[0] == ("out", "through")
            assert events[1][1].split()[2:] == ["127.0.0.1", str(sshd.port)]
            assert any(f"bastion 127.0.0.1:{bastion.port}" in line for line in info)
            # this process talks to the bastion only; the bastion's sshd carries the channel to the target
            out = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True).stdout
            mine = [line.split()[3] for line in out.splitlines() if f"pid={os.getpid()}," in line]
            assert f"127.0.0.1:{bastion.port}" in mine
            assert f"127.0.0.1:{sshd.port}" not in mine
    finally:
        bastion.stop()


def test_cancel_during_an_upload_aborts_it_and_the_next_one_works(sshd, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        f.truncate(400 << 20)  # sparse locally, so the test is cheap to set up but slow to send
    comm, _ = connect(sshd)
    result: dict = {}

    def worker():
        try:
            comm.upload(src, str(tmp_path / "remote.bin"))
            result["done"] = True
        except CommunicatorCancelled as e:
            result["error"] = e

    with comm:
        t = threading.Thread(target=worker)
        t.start()
        deadline = time.monotonic() + 10
        while not (tmp_path / "remote.bin").exists() or (tmp_path / "remote.bin").stat().st_size == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        t0 = time.monotonic()
        comm.cancel()
        t.join(5)
        assert not t.is_alive() and time.monotonic() - t0 < 2
        assert "error" in result and "cancelled" in str(result["error"]), result
        assert (tmp_path / "remote.bin").stat().st_size < 400 << 20
        comm.reset_cancel()
        comm.upload_bytes(b"again", str(tmp_path / "again"))
        assert (tmp_path / "again").read_bytes() == b"again"


def test_a_dropped_connection_is_reported_as_connection_lost_and_reconnects(sshd):
    from releasemgr.pipeline.communicator import ConnectionLost

    comm, _ = connect(sshd)
    with comm:
        # the shell's parent is this session's sshd process: killing it drops the connection, as a reboot does
        with pytest.raises(ConnectionLost, match=r"127\.0\.0\.1:\d+: .*(connection|closed)"):
            comm.run("echo bye; kill -9 $PPID; sleep 5")
        assert comm.run("echo back", on_stdout=lambda l: None) == 0  # reconnected on demand


def test_agent_auth_with_a_real_ssh_agent(sshd, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    out = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], capture_output=True, text=True, check=True).stdout
    pid = int(out.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(sshd.client_key)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        with SSHCommunicator(config_for(sshd, private_key_file=None, agent_auth=True)) as comm:
            assert comm.run("true") == 0
        # a template that does not ask for the agent does not use it (Packer's default)
        options = {"ssh_host": sshd.host, "ssh_port": sshd.port, "ssh_username": sshd.username,
                   "ssh_known_hosts_file": str(sshd.known_hosts)}
        with pytest.raises(CommunicatorError, match="no SSH credentials"):
            SSHCommunicator(from_packer_options(options)).connect()
        with SSHCommunicator(from_packer_options({**options, "ssh_agent_auth": True})) as comm:
            assert comm.run("true") == 0
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with pytest.raises(CommunicatorError, match="no SSH credentials"):
            SSHCommunicator(config_for(sshd, private_key_file=None, agent_auth=True)).connect()
    finally:
        os.kill(pid, 15)


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_password_login_against_an_ssh_server_that_takes_passwords(tmp_path, method):
    """OpenSSH here would check the password of a real account of this machine, which a test
    must not set; paramiko's server side accepts a password we choose, over a real socket."""
    import paramiko

    secret = "correct horse battery"
    host_key_path = keygen(tmp_path / "pw_host_key")
    host_key = paramiko.Ed25519Key.from_private_key_file(str(host_key_path))

    class PasswordServer(paramiko.ServerInterface):
        def get_allowed_auths(self, username):
            return method

        def check_auth_password(self, username, password):
            ok = method == "password" and (username, password) == ("deploy", secret)
            return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

        def check_auth_interactive(self, username, submethods):
            return paramiko.InteractiveQuery("", "", ("Password: ", False))

        def check_auth_interactive_response(self, responses):
            return paramiko.AUTH_SUCCESSFUL if list(responses) == [secret] else paramiko.AUTH_FAILED

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    transports = []

    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            t = paramiko.Transport(conn)
            t.add_server_key(host_key)
            t.start_server(server=PasswordServer())
            transports.append(t)

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    pinned = f"{host_key.get_name()} {host_key.get_base64()}"
    try:
        cfg = SSHConfig(host="127.0.0.1", port=port, username="deploy", password=secret, agent_auth=False,
                        host_key=pinned, timeout=10, handshake_attempts=1)
        info: list[str] = []
        comm = SSHCommunicator(cfg, on_info=info.append)
        comm.connect()
        assert info[-1] == "Connected to SSH!" and comm.connection.transport.is_authenticated()
        comm.close()
        wrong = SSHCommunicator(SSHConfig(**{**cfg.__dict__, "password": "wrong guess"}))
        with pytest.raises(CommunicatorError, match=r"SSH authentication failed for deploy@127\.0\.0\.1") as e:
            wrong.connect()
        assert "wrong guess" not in str(e.value)
    finally:
        listener.close()
        for t in transports:
            t.close()


@pytest.mark.parametrize("port_state", ["refused", "silent"])
def test_cancel_while_waiting_for_ssh(tmp_path, port_state):
    listener = None
    if port_state == "silent":  # accepts TCP, never says a word: the SSH handshake waits
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
    else:
        port = free_port()
    comm = SSHCommunicator(SSHConfig(host="127.0.0.1", port=port, known_hosts_file="/dev/null",
                                     timeout=60, connect_timeout=30))
    result: dict = {}

    def worker():
        try:
            comm.connect()
        except CommunicatorCancelled as e:
            result["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    try:
        time.sleep(0.8)
        t0 = time.monotonic()
        comm.cancel()
        t.join(5)
        assert not t.is_alive() and time.monotonic() - t0 < 2
        assert "cancelled" in str(result.get("error"))
    finally:
        if listener:
            listener.close()


def test_bastion_that_cannot_reach_the_target_says_so(sshd, tmp_path):
    closed = free_port()
    comm = SSHCommunicator(config_for(sshd, port=closed, bastion_host=sshd.host, bastion_port=sshd.port,
                                      known_hosts_file=str(sshd.known_hosts), timeout=1.5))
    with pytest.raises(CommunicatorError) as e:
        comm.connect()
    msg = str(e.value)
    assert f"waiting for SSH on 127.0.0.1:{closed} via 127.0.0.1:{sshd.port}" in msg
    assert f"the bastion cannot reach 127.0.0.1:{closed}" in msg


def test_the_pid_line_is_found_after_output_of_the_login_shells_rc_files():
    # (root's rc files cannot be changed on a shared test machine, so this part is checked directly)
    from releasemgr.pipeline.communicator.ssh import split_pid_line

    assert split_pid_line(b"__releasemgr_pid__=12\nhello\n") == (12, b"hello\n")
    assert split_pid_line(b"Welcome!\r\n__releasemgr_pid__=345\r\nhi") == (345, b"Welcome!\r\nhi")
    assert split_pid_line(b"__releasemgr_pid__=1") is None  # not complete yet
    assert split_pid_line(b"echo __releasemgr_pid__=7\n") is None  # only at the start of a line


def test_a_commands_timeout_also_bounds_waiting_for_a_reconnect(tmp_path):
    server = Sshd(tmp_path / "sshd").start()
    comm, _ = connect(server, timeout=60)
    try:
        comm.close()
        server.stop()  # the host went away (a reboot that does not come back)
        start = time.monotonic()
        with pytest.raises(CommunicatorError, match=r"timed out after 1\.5s waiting for SSH"):
            comm.run("true", timeout=1.5)
        assert time.monotonic() - start < 4
    finally:
        server.stop()


# -- options and their defaults ------------------------------------------------------------

def test_builders_take_the_ssh_defaults_from_the_schema():
    conf = from_packer_options({"ssh_host": "h"})
    taken = {"ssh_port": conf.port, "ssh_agent_auth": conf.agent_auth, "ssh_bastion_port": conf.bastion_port,
             "ssh_timeout": conf.timeout, "ssh_handshake_attempts": conf.handshake_attempts,
             "ssh_trust_on_first_use": conf.trust_on_first_use, "ssh_pty": conf.pty,
             "ssh_keep_alive_interval": conf.keepalive_interval}
    for builder in ("null", "amazon-ebs"):
        schema = schema_for("source", builder)
        for name, value in taken.items():
            option = schema.option(name)
            default = duration_seconds(option.default) if option.type == "duration" else option.default
            assert value == default, (builder, name)
    # settled: Packer documents ssh_agent_auth as false and ssh_timeout as 5m (the builder used true / 300)
    assert conf.agent_auth is False and conf.timeout == 300.0
    assert SSHConfig(host="h") == conf  # the dataclass says the same
    assert from_packer_options({"ssh_host": "h", "ssh_agent_auth": None, "ssh_timeout": ""}) == conf  # null: default


def test_packer_options_are_read_into_the_config():
    conf = from_packer_options({"ssh_port": 2222, "ssh_username": "ubuntu", "ssh_agent_auth": True,
                                "ssh_timeout": "1m30s", "ssh_keep_alive_interval": "10s", "ssh_pty": True,
                                "ssh_handshake_attempts": 3, "ssh_bastion_host": "b", "ssh_bastion_port": 2200},
                               default_host="10.0.0.5")
    assert (conf.host, conf.port, conf.username, conf.agent_auth, conf.timeout, conf.keepalive_interval) == \
        ("10.0.0.5", 2222, "ubuntu", True, 90.0, 10.0)
    assert (conf.pty, conf.handshake_attempts, conf.bastion_host, conf.bastion_port) == (True, 3, "b", 2200)
    with pytest.raises(CommunicatorError, match="ssh_host is required"):
        from_packer_options({})
    with pytest.raises(CommunicatorError, match="is not a duration"):
        from_packer_options({"ssh_host": "h", "ssh_timeout": "soon"})


def _counted(calls: list[tuple[int, int]]):
    return lambda done, total: calls.append((done, total))


def _check_counts(calls: list[tuple[int, int]], total: int) -> None:
    """What a progress display relies on: one total, counts that only grow, and the last
    count is the whole upload."""
    assert calls, "the upload reported no progress"
    assert {t for _, t in calls} == {total}
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and dones[-1] == total and 0 < dones[0]


@pytest.mark.parametrize("method", ["file", "tar", "sftp"])
def test_uploads_report_their_bytes_as_they_go(sshd, tmp_path, method):
    """`upload(progress=…)` hears (done, total) bytes of file content on every path: a file
    over SFTP, a folder as one tar stream, a folder file by file over parallel SFTP sessions."""
    if method == "file":
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom((3 << 20) + 777))
        total = src.stat().st_size
    else:
        src = make_tree(tmp_path / "src", files=40)
        (src / "big.bin").write_bytes(os.urandom((2 << 20) + 5))
        total = upload_size(src)
        assert total == sum(p.stat().st_size for p in src.rglob("*") if p.is_file() and not p.is_symlink())
    calls: list[tuple[int, int]] = []
    comm, _ = connect(sshd, directory_transfer="sftp" if method == "file" else method)
    with comm:
        comm.upload(str(src), str(tmp_path / "dest"), progress=_counted(calls))
        if method != "file":
            assert comm.last_directory_transfer == method
            assert tree_digest(tmp_path / "dest" / "src") == tree_digest(src)
    _check_counts(calls, total)
    assert len(calls) > 3, "a 2 MiB+ upload reports as it goes, not once at the end"
