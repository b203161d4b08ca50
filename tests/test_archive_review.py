"""Problems a review of the archive found (issue 7), each fixed and kept as a test:
equal scores past the ranking cut, placeholder nodes in thread JSON, Ctrl-C during a
parallel import, a Unicode digit as --limit, `show` of deeply nested MIME."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests import test_archive_cli
from tests.test_archive_cli import TEAM, imported, mbox_bytes, message, run

node_dir = test_archive_cli.node_dir  # the same node: two lists, config in the cwd


def _walk(nodes: list[dict[str, object]]) -> list[dict[str, object]]:
    out, stack = [], list(nodes)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node["children"])  # type: ignore[arg-type]
    return out


def test_thread_json_nodes_all_carry_the_spec_fields(node_dir: Path) -> None:
    # orphan@x cites <lost@x>, which was never archived: the thread's root is a placeholder
    imported(node_dir)
    nodes = _walk(json.loads(run("archive", "thread", "orphan@x", "--json")))
    assert {n["message_id"] for n in nodes} == {"lost@x", "orphan@x"}
    for node in nodes:
        missing = {"message_id", "list", "from", "subject", "date", "children"} - set(node)
        assert not missing, (node["message_id"], missing)


def test_a_limit_that_is_not_a_number_is_a_usage_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LISTFED_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "listfed", "archive", "search", "rent", "--limit", "²"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)


def _nested(levels: int, lines: int) -> bytes:
    head = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(levels)
    )
    return (
        b"From: Mallory <m@example.org>\nMessage-ID: <nested@x>\nSubject: nested\n"
        + head.encode()
        + b"\ntext\n"
        + b"line\n" * lines
    )


def test_show_of_a_deeply_nested_message_does_not_hand_it_to_mail_parser(
    node_dir: Path,
) -> None:
    # mail-parser (the email package) takes tens of seconds on nesting like this
    from listfed.mail.mimeparse import mime_defects

    nested = _nested(800, 80_000)
    path = node_dir / "nested.mbox"
    path.write_bytes(mbox_bytes([nested]))
    assert "1 added" in run("archive", "import", TEAM, str(path))
    shown = run("archive", "show", "nested@x")
    assert "MIME nested too deeply" in shown
    assert mime_defects(nested) == []


def test_equal_scores_come_newest_first_however_many_there_are(node_dir: Path) -> None:
    day = 86400
    reports = [
        message(
            f"nightly{i}@x",
            "Nightly build",
            "The nightly build succeeded.\n",
            sender="CI <ci@example.org>",
            date=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(1704099600 + i * day)),
        )
        for i in range(260)  # one a day, oldest first, all alike for bm25
    ]
    path = node_dir / "nightly.mbox"
    path.write_bytes(b"".join(mbox_bytes([m]) for m in reports))
    assert "260 added" in run("archive", "import", TEAM, str(path))
    hits = json.loads(run("archive", "search", "nightly build", "--json", "--limit", "5"))
    assert [h["message_id"] for h in hits] == [f"nightly{i}@x" for i in range(259, 254, -1)]


def _archived(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM archive").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


# the import as the command runs it, each batch's write made slow so that both worker
# processes are surely idle, waiting for work, when Ctrl-C comes (as they mostly are: the
# writer is the slower side)
_SLOW_IMPORT = """
import sys, time
from listfed.archive import importer
write = importer._write
def slow(*args, **kwargs):
    write(*args, **kwargs)
    time.sleep(0.3)
importer._write = slow
from listfed.cli.main import main
sys.argv = ["listfed", *sys.argv[1:]]
main()
"""


def test_ctrl_c_during_a_parallel_import_prints_no_traceback(node_dir: Path) -> None:
    messages = [
        message(f"bulk{i}@x", f"Bulk {i}", f"word{i} some filler text\n" * 12) for i in range(6_000)
    ]
    path = node_dir / "bulk.mbox"
    # (mbox_bytes is quadratic: fine for a few messages, not for thousands)
    path.write_bytes(b"".join(mbox_bytes([m]) for m in messages))
    assert path.stat().st_size > 2 * 1024 * 1024  # the two-process path
    env = {**os.environ, "LISTFED_CONFIG": str(node_dir / "listfed.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, "archive", "import", TEAM, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell's foreground job is
    )
    try:
        deadline = time.monotonic() + 60
        while _archived(node_dir / "var" / "listfed.db") == 0 and proc.poll() is None:
            assert time.monotonic() < deadline, "the import never committed a batch"
            time.sleep(0.05)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in err.decode(errors="replace"), err.decode(errors="replace")
    assert 0 < _archived(node_dir / "var" / "listfed.db") < len(messages)
    # what was committed stays, and running it again finishes the job
    again = run("archive", "import", TEAM, str(path))
    assert f"{len(messages)} read" in again and "0 damaged" in again
    assert _archived(node_dir / "var" / "listfed.db") == len(messages)
