"""What the node keeps is private to its user, whatever the umask (issue 16, item 6):
the database holds live moderation codes, private archives and member lists; the
maildir holds members' mail. And a confirmation code never appears whole in the log."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from listfed.addresses import for_log
from listfed.db.engine import Database
from listfed.delivery.transport import MaildirTransport
from listfed.listinfo import Policy
from listfed.ops.node import prepare, secret_path
from tests.conftest import DOMAIN, World, make_config, post


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    saved = os.umask(0o022)  # the common default: files 644, directories 755
    try:
        yield
    finally:
        os.umask(saved)


@pytest.mark.usefixtures("open_umask")
def test_a_new_node_keeps_its_data_private(tmp_path: Path) -> None:
    config = make_config(tmp_path, None)
    prepare(config)
    data = config.node.data_dir
    db = Database(data / "listfed.db")
    with db.write() as s:  # the first write makes the WAL and shared-memory files
        s.connection().exec_driver_sql("CREATE TABLE probe (x)")
    found = {p.name: _mode(p) for p in data.iterdir() if p.name.startswith("listfed.db")}
    db.close()
    assert _mode(data) == 0o700
    assert found == {"listfed.db": 0o600, "listfed.db-wal": 0o600, "listfed.db-shm": 0o600}
    assert _mode(secret_path(config)) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_an_older_install_is_made_private(tmp_path: Path) -> None:
    config = make_config(tmp_path, None)
    prepare(config)
    data = config.node.data_dir
    data.chmod(0o755)
    (data / "listfed.db").chmod(0o644)
    prepare(config)
    assert (_mode(data), _mode(data / "listfed.db")) == (0o700, 0o600)


@pytest.mark.usefixtures("open_umask")
async def test_maildir_copies_are_private(tmp_path: Path) -> None:
    box = MaildirTransport(tmp_path / "outbox")
    result = await box.send(
        "team-bounces@example.org", ["ann@example.net"], b"Subject: x\r\n\r\nhi"
    )
    assert result.accepted == ["ann@example.net"]
    [copy] = (tmp_path / "outbox" / "new").iterdir()
    assert _mode(copy) == 0o600 and _mode(tmp_path / "outbox" / "new") == 0o700


def test_a_confirmation_code_is_cut_in_logs() -> None:
    code = "abcdefghijklmnopqrstuvwxyz234567abcdefgh"
    assert for_log(f"team-confirm+{code}@{DOMAIN}") == f"team-confirm+abcdef...@{DOMAIN}"
    assert for_log(f"team-bounces+ann=example.net@{DOMAIN}") == (
        f"team-bounces+ann=example.net@{DOMAIN}"
    )
    assert for_log("plain@example.org") == "plain@example.org"


async def test_intake_never_logs_a_whole_confirmation_code(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.make_list(f"team@{DOMAIN}", Policy.OPEN)
    code = "abcdefghijklmnopqrstuvwxyz234567abcdefgh"
    with caplog.at_level(logging.INFO, logger="listfed.intake"):
        await world.send(post(subject="confirm"), f"team-confirm+{code}@{DOMAIN}")
        await world.idle()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "team-confirm+abcdef...@" in logged and code not in logged
