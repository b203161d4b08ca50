"""A real Dovecot IMAP server for tests, on a loopback port, with a throwaway config and
mail store, run as an unprivileged user: `dovecot` fixture, or `running_dovecot()`.

Needs Debian's dovecot-imapd (Dovecot 2.3). The server is stopped at teardown whatever
happened, and `stop()` kills its whole process group, as a crash would.

Runs as root too (CI does): Dovecot then refuses mail access as uid 0 ("userdb returned 0
as uid") and runs imap-login only as a non-root user, so as root the whole server is
started as `nobody` instead, with the same config a non-root user would use. That is why
the store lives in its own directory under /tmp (which `nobody` can traverse; pytest's
tmp_path is inside a 0700 directory) and is handed to that user. Short paths also keep
Dovecot's unix sockets under the 108-byte limit.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "alice"
PASSWORD = "imap-secret"
START_TIMEOUT = 10.0
CLIENT_TIMEOUT = 10.0

# Dovecot 2.3 syntax. Every path is under the server's own directory; nothing is read from
# /etc/dovecot. {user}/{group}: the account the server runs as (see the module docstring).
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# a wrong password answers at once: no fixed delay (2 s by default), and no growing
# per-IP penalty (anvil's, up to 15 s), which goes when its socket does
auth_failure_delay = 0

# Unprivileged: every service runs as the one account that started the server. Without
# these, Dovecot would switch to its "dovecot"/"dovenull" users, which it cannot do as
# non-root; the group line is needed too (it chowns its sockets to that group).
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
# and a non-root process cannot chroot, which anvil and imap-login do by default
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
}}
mail_location = maildir:{root}/mail/%u
{extra}"""

# what Dovecot 2.3 advertises after login, minus IDLE: a server a watcher has to poll
NO_IDLE = (
    "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE "
    "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
    "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY "
    "PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY\n"
)


class Dovecot:
    """One Dovecot server: `start()`, `append()`, `stop()` (a crash), `start()` again on
    the same port and store, `reset_uidvalidity()`, `close()` (stop and delete all)."""

    def __init__(self, *, idle: bool = True) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.user = USER
        self.password = PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="listfed-dovecot-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as = _run_as()
        name, group = _names(*self._run_as) if self._run_as else _names(os.getuid(), os.getgid())
        (self.root / "mail").mkdir()
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            CONFIG.format(
                root=self.root,
                user=name,
                group=group,
                port=self.port,
                extra="" if idle else NO_IDLE,
            )
        )
        if self._run_as:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, *self._run_as)

    @property
    def url(self) -> str:
        return f"imap://{self.host}:{self.port}/INBOX"

    def maildir(self, mailbox: str = "INBOX") -> Path:
        # Dovecot's default Maildir++ layout: INBOX is the root, others are ".Name"
        base = self.root / "mail" / self.user
        return base if mailbox.upper() == "INBOX" else base / f".{mailbox}"

    def start(self) -> None:
        """Start the server and wait (bounded) until it greets on its port."""
        if self._proc is not None:
            raise RuntimeError("dovecot is already running")
        uid, gid = self._run_as or (None, None)
        self._proc = subprocess.Popen(
            [program(), "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stop() takes the children
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            if _greets(self.host, self.port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not answer in {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server and all its processes at once, open connections included."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def client(self) -> imaplib.IMAP4:
        """A logged-in synchronous client; the caller logs out."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=CLIENT_TIMEOUT)
        imap.login(self.user, self.password)
        return imap

    def append(self, raw: bytes, mailbox: str = "INBOX") -> int:
        """Put a message in the mailbox as a delivery would; returns its UID."""
        return self.append_many([raw], mailbox)[0]

    def append_many(self, raws: list[bytes], mailbox: str = "INBOX") -> list[int]:
        """Several messages in one session; returns their UIDs. (imaplib sends LF line
        ends as CRLF; Dovecot stores LF in the maildir and serves CRLF either way.)"""
        imap = self.client()
        try:
            if mailbox.upper() != "INBOX":
                imap.create(mailbox)  # NO when it exists, which is fine
            uids = []
            for raw in raws:
                status, data = imap.append(mailbox, "", None, raw)
                assert status == "OK", data
                found = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
                assert found, data
                uids.append(int(found.group(1)))
            return uids
        finally:
            imap.logout()

    def uidvalidity(self, mailbox: str = "INBOX") -> int:
        imap = self.client()
        try:
            status, data = imap.status(mailbox, "(UIDVALIDITY)")
            assert status == "OK", data
            found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert found, data
            return int(found.group(1))
        finally:
            imap.logout()

    def flags(self, mailbox: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message, read without changing them."""
        imap = self.client()
        try:
            imap.select(mailbox, readonly=True)
            status, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            assert status == "OK", data
            result: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                found = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", item)
                if found:
                    result[int(found.group(1))] = set(found.group(2).decode().split())
            return result
        finally:
            imap.logout()

    def reset_uidvalidity(self, mailbox: str = "INBOX") -> int:
        """Make the server number the mailbox afresh, as after a restore from backup:
        stop, drop its UID list and indexes (the messages stay), start; returns the new
        UIDVALIDITY, checked to differ from the old one."""
        was_running = self._proc is not None
        if not was_running:
            self.start()
        old = self.uidvalidity(mailbox)
        self.stop()
        folder = self.maildir(mailbox)
        stale = [folder / "dovecot-uidlist", *folder.glob("dovecot.index*")]
        # the mailbox list index caches UIDVALIDITY too; it lives in the top directory
        stale += self.maildir("INBOX").glob("dovecot.list.index*")
        for path in stale:
            path.unlink(missing_ok=True)
        self.start()
        new = self.uidvalidity(mailbox)
        if not was_running:
            self.stop()
        if new == old:
            raise RuntimeError(f"UIDVALIDITY stayed {old} after the reset")
        return new


@contextlib.contextmanager
def running_dovecot(*, idle: bool = True) -> Iterator[Dovecot]:
    server = Dovecot(idle=idle)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(name="dovecot")
def dovecot_fixture() -> Iterator[Dovecot]:
    """`dovecot`: a started Dovecot with one user (USER/PASSWORD) and an empty INBOX.
    (Import `dovecot_fixture` to use it; the name keeps test arguments from shadowing.)"""
    with running_dovecot() as server:
        yield server


def program() -> str:
    """The dovecot binary. Debian installs it in /usr/sbin, which is not on a normal
    user's PATH: looked for there too."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    found = shutil.which("dovecot", path=path)
    if found is None:
        raise RuntimeError(
            "dovecot is not installed: the IMAP bridge tests need Dovecot 2.3 "
            "(on Debian: apt-get install dovecot-imapd)"
        )
    return found


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to drop to when started as root, else None."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _names(uid: int, gid: int) -> tuple[str, str]:
    return pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _greets(host: str, port: int) -> bool:
    """True when an IMAP greeting arrives (the listener alone is up before imap-login)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            if not sock.recv(1024).startswith(b"* OK"):
                return False
            sock.sendall(b"a LOGOUT\r\n")  # politely, or Dovecot logs a reset
            return True
    except OSError:
        return False
