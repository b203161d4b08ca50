"""`listfed serve` runs the web face (SPEC §10): a child process on [web] listen that
comes back when it dies and stops with the daemon; a taken port stops the start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from listfed.config import WebConfig, parse_config
from listfed.errors import ConfigError
from listfed.web import balance
from tests.conftest import DOMAIN
from tests.dnsstub import quiet
from tests.test_restart import free_port

PID = re.compile(r"web face on http://127\.0\.0\.1:(\d+)/ \(pid (\d+)\)")


def write_config(
    tmp_path: Path,
    web_port: int,
    lists: tuple[str, ...] = (),
    base_url: str = "",
    workers: int = 2,
) -> Path:
    """A config (serve makes the data dir and database itself) and these lists."""
    config = tmp_path / "listfed.toml"
    config.write_text(config_text(web_port, base_url) + f"workers = {workers}\n")
    listfed = [sys.executable, "-m", "listfed", "--config", str(config)]
    if lists:
        subprocess.run([*listfed, "init"], check=True, capture_output=True)
    for address in lists:
        subprocess.run([*listfed, "lists", "create", address], check=True, capture_output=True)
    return config


def config_text(web_port: int, base_url: str = "") -> str:
    return (
        f'[node]\nname = "node.example.org"\ndomains = ["{DOMAIN}"]\ndata_dir = "var"\n'
        f'base_url = "{base_url}"\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[dns]\nnameservers = ["{quiet()}"]\n'
        f'[web]\nlisten = "127.0.0.1:{web_port}"\n'
    )


def wait_for(found: Callable[[], object], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("gave up waiting")


def get(port: int, path: str = "/") -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return None


@contextmanager
def serving(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`listfed serve` with this config, its log in `log`; stopped afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "listfed", "--config", str(config), "serve"],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    port = free_port()
    config = write_config(tmp_path, port, (f"team@{DOMAIN}",))
    log = tmp_path / "daemon.log"
    with serving(config, log) as proc:
        yield proc, log, port


def pids(log: Path) -> list[int]:
    return [int(m.group(2)) for m in PID.finditer(log.read_text(errors="replace"))]


def niceness(pid: int) -> int:
    """Field 19 of /proc/PID/stat (after the command's parenthesis)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[16])


def policies(pid: int) -> set[int]:
    """The scheduling policies of the process's threads."""
    return {os.sched_getscheduler(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_answers_on_the_web_port_and_the_child_comes_back(
    daemon: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    proc, log, port = daemon
    status, page = wait_for(lambda: get(port))
    assert status == 200 and "team at lists.example.org" in page
    first, other = wait_for(lambda: pids(log) if len(pids(log)) == 2 else None)
    # pages give way to mail: every thread of the children runs only on CPU time that
    # nothing else wants (each child sets it as it starts)
    assert os.sched_getscheduler(proc.pid) == os.SCHED_OTHER
    wait_for(lambda: policies(first) == policies(other) == {os.SCHED_IDLE})
    os.kill(first, signal.SIGKILL)  # one of the web face's children, started by this daemon
    # the other child serves meanwhile, and the killed one comes back
    status, page = wait_for(lambda: get(port, f"/team@{DOMAIN}/"))
    assert status == 200 and "No posts yet" in page
    wait_for(lambda: len(pids(log)) == 3)
    assert "exited with status -9; restarting" in log.read_text()
    third = pids(log)[2]
    assert third not in (first, other) and alive(other)
    for _ in range(20):  # whichever child takes the connection, the page is the same
        answer = get(port, f"/team@{DOMAIN}/")
        assert answer is not None and answer[0] == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not alive(other) and not alive(third)  # stopped with the daemon
    assert get(port) is None


def sockets(pid: int) -> int:
    """How many sockets the process holds open."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


def serving_both(pid: int) -> bool:
    """Have both children written their slot of the board lately (they are accepting)?"""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        if os.readlink(fd).startswith("/memfd:listfed-web-board"):
            data = fd.read_bytes()
            now = time.monotonic()
            return all(
                now - balance.SLOT.unpack_from(data, balance.SLOT.size * slot)[1] < 0.5
                for slot in range(2)
            )
    return False


def test_connections_opened_at_once_are_spread_over_the_children(
    daemon: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    """50 keep-alive connections opened together (a benchmark's, a proxy's pool) go half
    to each child: the first child to wake on a shared socket took all of them, and the
    kernel's hash over a socket each split them as unevenly as 17/33 (web/balance.py)."""
    _proc, log, port = daemon
    wait_for(lambda: get(port))
    children = wait_for(lambda: pids(log) if len(pids(log)) == 2 else None)
    wait_for(lambda: serving_both(children[0]))  # a child still starting takes none
    idle = {pid: sockets(pid) for pid in children}
    conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
    try:
        for conn in conns:
            conn.sendall(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        for conn in conns:
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        held = {pid: sockets(pid) - idle[pid] for pid in children}
        # (a connection of the readiness check may close meanwhile: the counts are of
        # sockets, give or take that one)
        assert max(held.values()) - min(held.values()) <= 3, held
    finally:
        for conn in conns:
            conn.close()


def test_priority_low_runs_the_children_ten_steps_nicer_and_a_reload_applies_it(
    tmp_path: Path,
) -> None:
    """For a machine whose cores are always busy with other work, where pages that only
    get idle CPU time would wait."""
    port = free_port()
    config = write_config(tmp_path, port, workers=1)
    config.write_text(config.read_text() + 'priority = "low"\n')
    log = tmp_path / "daemon.log"
    with serving(config, log) as proc:
        wait_for(lambda: get(port))
        (child,) = wait_for(lambda: pids(log) if len(pids(log)) == 1 else None)
        assert policies(child) == {os.SCHED_OTHER}
        assert niceness(child) == niceness(proc.pid) + 10
        config.write_text(config.read_text().replace('"low"', '"idle"'))
        proc.send_signal(signal.SIGHUP)
        (_, again) = wait_for(lambda: pids(log) if len(pids(log)) == 2 else None)
        wait_for(lambda: get(port))
        assert policies(again) == {os.SCHED_IDLE}


def test_a_reload_restarts_the_web_face_with_the_new_base_url(tmp_path: Path) -> None:
    team, port = f"team@{DOMAIN}", free_port()
    config = write_config(tmp_path, port, (team,), base_url="https://old.example.org")
    log = tmp_path / "daemon.log"

    def feed_says(base: str) -> bool:
        answer = get(port, f"/{team}/atom.xml")
        return answer is not None and f'href="{base}/{team}/atom.xml"' in answer[1]

    with serving(config, log) as proc:
        wait_for(lambda: feed_says("https://old.example.org"))
        first = wait_for(lambda: pids(log) if len(pids(log)) == 2 else None)
        text = config.read_text()
        config.write_text(text.replace("https://old.example.org", "https://lists.example.org"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(pids(log)) == 4 and not any(alive(pid) for pid in first))
        for _ in range(10):  # both new children have the new base_url
            assert feed_says("https://lists.example.org")
        said = log.read_text()
        for pid in first:
            assert f"web face (pid {pid}) restarting with new settings" in said
        assert "exited with status" not in said  # a replacement, not a crash

        # Nothing for the web face in this reload: the children stay.
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.read_text().count("configuration reloaded") == 2)
        assert len(pids(log)) == 4

        # A new number of workers waits for a restart of serve, and the reload says so.
        config.write_text(config.read_text().replace("workers = 2", "workers = 3"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.read_text().count("configuration reloaded") == 3)
        assert "[web] workers is now 3 in the file; the web face keeps its 2" in log.read_text()
        assert len(pids(log)) == 4

        # A new [web] listen needs a restart of serve; the reload says so and serves on.
        other = free_port()
        config.write_text(config.read_text().replace(f"127.0.0.1:{port}", f"127.0.0.1:{other}"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.read_text().count("configuration reloaded") == 4)
        said = log.read_text()
        assert f"[web] listen is now on 127.0.0.1:{other} in the file" in said
        assert f"the web face stays on 127.0.0.1:{port} until serve is restarted" in said
        assert feed_says("https://lists.example.org") and get(other) is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_serve_does_not_start_when_the_web_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, port)
        result = subprocess.run(
            [sys.executable, "-m", "listfed", "--config", str(config), "serve"],
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 1
    err = result.stderr.decode()
    assert f"cannot listen on 127.0.0.1:{port} for the web face" in err
    assert "change [web] listen" in err
    assert "Traceback" not in err


def _web(value: object) -> WebConfig:
    return parse_config({"web": {"listen": value}}, Path("."), {}).web


def test_the_web_listen_key() -> None:
    assert parse_config({}, Path("."), {}).web == WebConfig("127.0.0.1", 8080, True)
    assert _web("") == WebConfig(enabled=False)
    assert _web("[::1]:8081") == WebConfig("::1", 8081, True)
    for bad in ("8080", "127.0.0.1:99999", 8080):
        with pytest.raises(ConfigError) as caught:
            _web(bad)
        assert caught.value.key == "web.listen"
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"web": {"port": 1}}, Path("."), {})


def test_the_web_workers_key() -> None:
    def workers(value: object) -> WebConfig:
        return parse_config({"web": {"workers": value}}, Path("."), {}).web

    cores = len(os.sched_getaffinity(0))
    auto = max(1, min(4, cores))  # pages run on idle CPU time only: one per core
    assert parse_config({}, Path("."), {}).web.processes() == auto
    assert workers("auto").processes() == auto
    assert workers(3).processes() == 3
    low = parse_config({"web": {"priority": "low"}}, Path("."), {}).web
    assert low.processes() == max(1, min(4, cores - 1))  # a core stays for mail
    for bad in (0, -1, 65, "two", True, 1.5):
        with pytest.raises(ConfigError, match='expected "auto" or a number from 1 to 64') as caught:
            workers(bad)
        assert caught.value.key == "web.workers"
    with pytest.raises(ConfigError, match="expected idle or low, got 'nice'") as caught:
        parse_config({"web": {"priority": "nice"}}, Path("."), {})
    assert caught.value.key == "web.priority"


def raw_http(port: int, request: bytes) -> bytes:
    """What the web face answers to `request` sent as is on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if len(answer) > 1_000_000:
                break
    return answer


def test_malformed_and_oversized_requests_get_4xx_and_no_traceback(
    daemon: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    _proc, log, port = daemon
    wait_for(lambda: get(port))
    for request in (
        b"\x16\x03\x01\x02\x00garbage that is no HTTP\r\n\r\n",  # a TLS hello on plain HTTP
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        b"GET /%zz%00/../ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nemail=",
    ):
        answer = raw_http(port, request)
        status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b""
        assert status.startswith(b"4") or answer == b"", answer[:200]
    assert get(port) is not None  # still serving
    assert "Traceback" not in log.read_text(errors="replace")
