"""`listfed bridges ls | sync` as a corresponding secretary uses them: a config file with
an SMTP and an IMAP bridge, the list made by the CLI, a real Dovecot holding the mailbox
(tests/dovecot.py), and only what the user sees asserted, plus the queue rows a sync
leaves for the daemon."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from listfed.cli.app import app
from listfed.db.engine import Database
from listfed.db.models import QueueItem
from tests.dovecot import PASSWORD, Dovecot, dovecot_fixture  # noqa: F401 (fixture)
from tests.loaded import ORM, run_listfed

HERE = "lists.example.org"
TEAM = f"team@{HERE}"
FOREIGN = "atl-coc@groups.example"
PASSWORD_VAR = "LISTFED_TEST_ATL_IMAP"

NODE = f"""
[node]
name = "node.example.org"
domains = ["{HERE}"]
data_dir = "var"
"""

SMTP_BRIDGE = f"""
[[bridge]]
name = "atl-smtp"
list = "{TEAM}"
foreign = "{FOREIGN}"
address = "bridge-atl@{HERE}"
"""


def imap_bridge(url: str, user: str, name: str = "atl-imap") -> str:
    return f"""
[[bridge]]
name = "{name}"
list = "{TEAM}"
foreign = "{FOREIGN}"
imap = "{url}"
username = "{user}"
password = "env:{PASSWORD_VAR}"
post_as = "secretary@example.org"
"""


def run(*args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout, result.stderr


def node(tmp_path: Path, bridges: str = "", *, make: bool = True) -> str:
    """A node with `bridges` in its config and the list TEAM (unless not `make`);
    returns the config path."""
    config = tmp_path / "listfed.toml"
    config.write_text(NODE + bridges)
    run("--config", str(config), "init")
    if make:
        run("--config", str(config), "lists", "create", TEAM)
    return str(config)


def foreign_post(n: int, delivered_to: str = "") -> bytes:
    """Post n of the foreign list; with `delivered_to`, as the mailbox's server stores
    it when it took it for that address (the bridge's tagged one proves it)."""
    return (
        (f"Delivered-To: {delivered_to}\r\n" if delivered_to else "")
        + f"From: Zed <zed@atl.example>\r\nTo: {FOREIGN}\r\n"
        "List-Id: Atlanta CoC <atl-coc.groups.example>\r\n"
        f"Subject: [atl-coc] Meeting {n}\r\nMessage-ID: <m{n}@atl.example>\r\n"
        "Date: Mon, 06 May 2024 10:00:00 +0000\r\n\r\nSee you there.\r\n"
    ).encode()


PRIVATE = (
    b"From: Mum <mum@example.net>\r\nTo: alice@example.org\r\nSubject: Sunday\r\n"
    b"Message-ID: <sunday@example.net>\r\n\r\nLunch?\r\n"
)


def queued(config: str) -> list[QueueItem]:
    db = Database(Path(config).parent / "var" / "listfed.db")
    try:
        with db.read() as s:
            return list(s.exec(select(QueueItem).order_by(col(QueueItem.id))))
    finally:
        db.close()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)


def test_ls_without_bridges(tmp_path: Path) -> None:
    config = node(tmp_path)
    out, _ = run("--config", config, "bridges", "ls")
    assert "no bridges" in out
    out, _ = run("--config", config, "bridges", "ls", "--json")
    assert json.loads(out) == []


def test_ls_before_any_run_says_never_ran(tmp_path: Path) -> None:
    config = node(tmp_path, SMTP_BRIDGE + imap_bridge("imap://127.0.0.1:1/INBOX", "alice"))
    out, _ = run("--config", config, "bridges", "ls")
    assert f"atl-smtp (smtp): {TEAM} <-> {FOREIGN}" in out
    assert f"atl-imap (imap): {TEAM} <-> {FOREIGN}" in out
    assert out.count("never ran") == 2
    assert out.count("last message  never") == 2
    assert PASSWORD not in out
    smtp, imap = json.loads(run("--config", config, "bridges", "ls", "--json")[0])
    assert smtp == {
        "name": "atl-smtp",
        "kind": "smtp",
        "list": TEAM,
        "foreign": FOREIGN,
        "address": f"bridge-atl@{HERE}",
        "imap": None,
        "username": None,
        "post_as": None,
        "smtp": None,
        "direction": "both",
        "subscribe": smtp["subscribe"],
        "state": "never ran",
        "uidvalidity": None,
        "last_uid": None,
        "last_message": "",
        "last_error": "",
        "last_error_at": "",
        "taken": 0,
        "sent": 0,
    }
    assert imap | {"kind": "imap", "imap": "imap://127.0.0.1:1/INBOX", "address": None} == imap
    assert imap | {"state": "never ran", "last_uid": 0, "uidvalidity": 0, "taken": 0} == imap
    # the addresses to subscribe carry each bridge's own secret tag
    tag = re.fullmatch(r"bridge-atl\+([a-z2-7]{16})@" + re.escape(HERE), smtp["subscribe"])
    assert tag is not None
    assert re.fullmatch(r"secretary\+[a-z2-7]{16}@example\.org", imap["subscribe"])
    assert tag.group(1) not in imap["subscribe"]
    assert f"subscribe as  {smtp['subscribe']}" in out


def test_sync_queues_the_foreign_lists_posts_once(tmp_path: Path, dovecot: Dovecot) -> None:
    config = node(tmp_path, SMTP_BRIDGE + imap_bridge(dovecot.url, dovecot.user))
    to = json.loads(run("--config", config, "bridges", "ls", "--json")[0])[1]["subscribe"]
    dovecot.append_many([foreign_post(1, to), PRIVATE, foreign_post(2, to)])

    out, _ = run("--config", config, "bridges", "sync", "atl-imap")
    assert out.strip() == (
        f"bridge atl-imap: 2 post(s) of {FOREIGN} queued on {TEAM}; "
        "1 other message(s) left in the mailbox"
    )
    items = queued(config)
    assert [(i.kind, i.origin, i.rcpt, i.message_id) for i in items] == [
        ("post", "bridge:atl-imap", TEAM, "m1@atl.example"),
        ("post", "bridge:atl-imap", TEAM, "m2@atl.example"),
    ]
    # all three stay in the mailbox, unread: the secretary's own mail is untouched
    assert sorted(dovecot.flags()) == [1, 2, 3]
    assert all("\\Seen" not in flags for flags in dovecot.flags().values())

    out, _ = run("--config", config, "bridges", "sync", "atl-imap")
    assert out.strip() == f"bridge atl-imap: nothing new in {dovecot.url}"
    assert len(queued(config)) == 2

    dovecot.append(foreign_post(3, to))
    out, _ = run("--config", config, "bridges", "sync", "atl-imap", "--json")
    assert json.loads(out) == {"name": "atl-imap", "fetched": 1, "queued": 1}
    assert [i.message_id for i in queued(config)][-1] == "m3@atl.example"

    # without the tag (or an aligned DKIM signature) it is queued as a stranger's post
    dovecot.append(foreign_post(4))
    run("--config", config, "bridges", "sync", "atl-imap")
    last = queued(config)[-1]
    assert (last.origin, last.message_id) == ("bridged:atl-imap", "m4@atl.example")

    text, _ = run("--config", config, "bridges", "ls")
    raw, _ = run("--config", config, "bridges", "ls", "--json")
    smtp, imap = json.loads(raw)
    assert smtp["state"] == "never ran"
    assert imap | {"last_uid": 5, "taken": 4, "sent": 0, "last_error": ""} == imap
    assert imap["uidvalidity"] == dovecot.uidvalidity()
    assert imap["state"] == "synced by hand"  # no daemon has watched it: no live state
    assert imap["last_message"].endswith("Z")
    assert f"last UID      5 (UIDVALIDITY {imap['uidvalidity']})" in text
    assert f"last message  {imap['last_message']}" in text
    assert "taken / sent  4 / 0" in text
    for out in (text, raw):
        assert dovecot.password not in out


def test_a_sync_loads_the_orm_only_to_store_what_it_took(tmp_path: Path, dovecot: Dovecot) -> None:
    """Up to the mailbox, and when it has nothing new or cannot be reached, a pass reads
    and writes with plain sqlite3 (issue 20: the command starts in a fraction of a second)."""
    config = node(tmp_path, imap_bridge(dovecot.url, dovecot.user))
    env = {**os.environ, "LISTFED_CONFIG": config}
    dovecot.append(foreign_post(1))
    code, _, out = run_listfed(env, ["bridges", "sync", "atl-imap"])
    assert (code or 0, "1 post(s)" in out) == (0, True), out
    code, modules, out = run_listfed(env, ["bridges", "sync", "atl-imap"])
    assert (code or 0, out.splitlines()[0]) == (0, f"bridge atl-imap: nothing new in {dovecot.url}")
    assert ORM & modules == set()
    dead = config.replace("listfed.toml", "dead.toml")
    Path(dead).write_text(
        Path(config).read_text().replace(dovecot.url, f"imap://127.0.0.1:{dead_port()}/INBOX")
    )
    code, modules, out = run_listfed(
        {**env, "LISTFED_CONFIG": dead}, ["bridges", "sync", "atl-imap"]
    )
    assert code == 1 and "connecting to 127.0.0.1" in out
    assert ORM & modules == set()
    assert "connecting to 127.0.0.1" in run("--config", dead, "bridges", "ls")[0]  # noted


def test_sync_of_an_unknown_bridge_names_the_known_ones(tmp_path: Path) -> None:
    config = node(tmp_path, SMTP_BRIDGE + imap_bridge("imap://127.0.0.1:1/INBOX", "alice"))
    _, err = run("--config", config, "bridges", "sync", "atlanta", code=1)
    assert err.strip() == "listfed: no bridge named atlanta (configured: atl-smtp, atl-imap)"


def test_sync_of_an_smtp_bridge_says_there_is_nothing_to_sync(tmp_path: Path) -> None:
    config = node(tmp_path, SMTP_BRIDGE)
    _, err = run("--config", config, "bridges", "sync", "atl-smtp", code=1)
    assert len(err.strip().splitlines()) == 1
    assert "SMTP bridge" in err
    assert "nothing to sync" in err


def test_sync_with_a_wrong_password_fails_in_one_line(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, "not-the-password")
    config = node(tmp_path, imap_bridge(dovecot.url, dovecot.user))
    dovecot.append(foreign_post(1))
    _, err = run("--config", config, "bridges", "sync", "atl-imap", code=1)
    [line] = err.strip().splitlines()
    assert line.startswith("listfed: bridge atl-imap: LOGIN as alice refused: NO")
    assert "not-the-password" not in err
    assert queued(config) == []
    [imap] = json.loads(run("--config", config, "bridges", "ls", "--json")[0])
    assert imap["last_error"].startswith("LOGIN as alice refused")
    assert imap["last_error_at"].endswith("Z")
    assert imap["last_uid"] == 0
    assert imap["state"] == "never connected"


def test_sync_against_a_dead_port_fails_in_one_line(tmp_path: Path) -> None:
    url = f"imap://127.0.0.1:{dead_port()}/INBOX"
    config = node(tmp_path, imap_bridge(url, "alice"))
    _, err = run("--config", config, "bridges", "sync", "atl-imap", code=1)
    [line] = err.strip().splitlines()
    assert line.startswith("listfed: bridge atl-imap: connecting to 127.0.0.1:")
    out, _ = run("--config", config, "bridges", "ls")
    assert "state         never connected" in out
    assert "last error    20" in out  # with its time
    assert "connecting to 127.0.0.1" in out


def test_sync_says_when_the_local_list_is_missing(tmp_path: Path) -> None:
    config = node(tmp_path, imap_bridge("imap://127.0.0.1:1/INBOX", "alice"), make=False)
    _, err = run("--config", config, "bridges", "sync", "atl-imap", code=1)
    assert err.strip() == (
        f"listfed: bridge atl-imap: the list {TEAM} does not exist "
        f"(`listfed lists create {TEAM}` makes it)"
    )
