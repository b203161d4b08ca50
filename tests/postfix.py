"""A private Postfix instance for tests: its own config and queue directory under a
temporary folder (`postfix -c DIR`), listening on a loopback port, never the system's
/etc/postfix instance; stopped (and its queue left to the folder) by the fixture.

Debian's `postfix` package provides the programs (.ci/run installs it). Postfix wants
root to start (its master drops to the `postfix` user), as in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))

_MASTER = """\
{port}    inet  n  -  n  -  -  smtpd
pickup    unix  n  -  n  60 1  pickup
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300 1 qmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -  -  proxymap
smtp      unix  -  -  n  -  -  smtp
relay     unix  -  -  n  -  -  smtp
showq     unix  n  -  n  -  -  showq
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
lmtp      unix  -  -  n  -  -  lmtp
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram n - n - 1 postlogd
"""


@dataclass
class Postfix:
    directory: Path
    port: int

    @property
    def log(self) -> str:
        path = self.directory / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def queued(self) -> int:
        """Messages in its queue (a bounce it made would wait there: DNS is off)."""
        queue = self.directory / "queue"
        return sum(
            1
            for name in ("incoming", "active", "deferred", "maildrop", "hold")
            for _ in (queue / name).rglob("*")
            if _.is_file()
        )

    def postfix(self, *args: str) -> None:
        assert POSTFIX is not None
        subprocess.run(
            [POSTFIX, "-c", str(self.directory), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postfix_directory() -> Iterator[Path]:
    """A folder the `postfix` user can reach (pytest's own are root's alone), removed
    afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="listfed-postfix-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        if not os.environ.get("LISTFED_KEEP_POSTFIX"):
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def running_postfix(directory: Path, main_cf: list[str]) -> Iterator[Postfix]:
    """Start an instance in `directory` (from `postfix_directory`) with these main.cf
    lines beside the private defaults."""
    if POSTFIX is None:
        raise RuntimeError("postfix is not installed: apt-get install postfix (see README)")
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    for sub in ("queue", "data"):
        (directory / sub).mkdir(exist_ok=True)
    shutil.chown(directory / "data", "postfix", "postfix")
    lines = [
        "compatibility_level = 3.6",
        f"queue_directory = {directory / 'queue'}",
        f"data_directory = {directory / 'data'}",
        f"maillog_file = {directory / 'maillog'}",
        f"maillog_file_prefixes = {directory}",
        "myhostname = front.test",
        "mydomain = front.test",
        "myorigin = front.test",
        "mydestination =",
        "inet_interfaces = 127.0.0.1",
        "inet_protocols = ipv4",
        "mynetworks = 127.0.0.2/32",  # the tests' clients (127.0.0.1) are the Internet
        "alias_maps =",
        "alias_database =",
        "smtp_dns_support_level = disabled",
        "smtputf8_enable = no",
        "biff = no",
        "maximal_backoff_time = 5s",
        "minimal_backoff_time = 1s",
        "queue_run_delay = 1s",
        *main_cf,
    ]
    (directory / "main.cf").write_text("\n".join(lines) + "\n")
    (directory / "master.cf").write_text(_MASTER.format(port=f"127.0.0.1:{port}"))
    server = Postfix(directory, port)
    server.postfix("start")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"postfix did not listen on {port}:\n{server.log[-2000:]}")
        yield server
    finally:
        subprocess.run(
            [POSTFIX, "-c", str(directory), "stop"], capture_output=True, timeout=60, check=False
        )
