"""Removing posts from the archive (issue 20): `archive delete MESSAGE-ID [--list L]` and
`members forget ADDR --posts`, as an admin runs them; what readers then see on the
command line and the web face (410 Gone, a "post removed" placeholder in the thread),
and that the post never comes back (a re-import, a relay)."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from listfed.web.app import build
from tests.test_archive_cli import MESSAGES, OTHER, TEAM, ids, imported, mbox_bytes, node_dir, run

__all__ = ["node_dir"]  # the fixture


def web(node_dir: Path) -> TestClient:
    return TestClient(build(node_dir / "var" / "listfed.db"))


def test_archive_delete_removes_the_post_and_leaves_its_place_in_the_thread(
    node_dir: Path,
) -> None:
    mbox = imported(node_dir)
    assert "r1@x" in ids("résumé")
    out = run("archive", "delete", "<r1@x>")
    assert f"<r1@x>: removed from the archive of {TEAM}" in out
    assert ids("résumé") == []  # gone from the search index
    tree = run("archive", "thread", "root@x")
    assert "(post removed) <r1@x>" in tree and "tenants union" not in tree
    assert "Chloé Durand" in tree  # the reply to it stays where it was
    [root] = json.loads(run("archive", "thread", "root@x", "--json"))
    [gone] = root["children"]
    assert gone["message_id"] == "r1@x" and gone["removed"] is True
    said = run("archive", "show", "r1@x", code=1)
    assert f"removed from {TEAM} on" in said and "(archive delete)" in said
    assert "no archived message <r1@x>" in run("archive", "delete", "r1@x", code=1)

    with web(node_dir) as client:
        page = client.get(f"/{TEAM}/m/r1%40x")
        assert page.status_code == 410 and "Post removed" in page.text
        assert client.get(f"/{TEAM}/m/r1%40x/raw").status_code == 410
        thread = client.get(f"/{TEAM}/t/root%40x")
        assert "(post removed)" in thread.text and "résumé" not in thread.text
        assert "tenants union will join" in thread.text
        assert b"Message-ID: <r1@x>" not in client.get(f"/{TEAM}/t/root%40x.mbox").content
        assert client.get(f"/{TEAM}/m/never%40x").status_code == 404  # never there: 404

    again = run("archive", "import", TEAM, str(mbox))  # an old mbox does not bring it back
    assert "0 added" in again
    assert ids("résumé") == []


def test_delete_on_one_list_or_on_every_list_that_has_it(node_dir: Path) -> None:
    imported(node_dir)
    path = node_dir / "other.mbox"
    path.write_bytes(mbox_bytes(MESSAGES[:2]))
    run("archive", "import", OTHER, str(path))
    out = run("archive", "delete", "root@x", "--list", OTHER)
    assert OTHER in out and TEAM not in out
    assert "Rent strike" in run("archive", "show", "root@x", "--list", TEAM)
    out = run("archive", "delete", "r1@x")  # both lists have it
    assert OTHER in out and TEAM in out
    assert "no list nope@" in run(
        "archive", "delete", "r2@x", "--list", f"nope@{TEAM.split('@')[1]}", code=1
    )


def test_members_forget_posts_removes_every_post_from_the_address(node_dir: Path) -> None:
    imported(node_dir)
    run("members", "add", TEAM, "bob@example.net")
    out = run("members", "forget", "BOB@example.net", "--posts")
    assert "BOB@example.net: 1 archived post(s) removed" in out
    assert ids("résumé") == []
    assert "(post removed) <r1@x>" in run("archive", "thread", "root@x")
    assert "(members forget --posts)" in run("archive", "show", "r1@x", code=1)
    # without --posts the archive stays as it was
    run("members", "add", TEAM, "ann@example.org")
    out = run("members", "forget", "ann@example.org")
    assert "archived post" not in out
    assert "root@x" in ids("Friday")
