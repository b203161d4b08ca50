"""The Atom feed is kept between requests and made again when its posts change; a reader
who has the current one gets `304 Not Modified` (web/kept.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from listfed.web.app import build
from tests.conftest import DOMAIN
from tests.test_archive_cli import TEAM, mbox_bytes, message
from tests.test_web import run

FEED = f"/{TEAM}/atom.xml"


def _post(config: Path, mid: str, subject: str, date: str) -> None:
    mbox = config.parent / f"{mid}.mbox"
    mbox.write_bytes(mbox_bytes([message(mid, subject, f"{subject}, in full.\n", date=date)]))
    run(config, "archive", "import", TEAM, str(mbox))


def test_a_feed_is_made_again_when_its_posts_or_list_change_and_304_when_not(
    tmp_path: Path,
) -> None:
    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    run(config, "lists", "create", TEAM)
    _post(config, "first@x", "First news", "Mon, 04 Mar 2024 10:00:00 +0000")
    with TestClient(build(tmp_path / "var" / "listfed.db")) as client:
        first = client.get(FEED)
        assert first.status_code == 200 and "First news" in first.text
        tag = first.headers["etag"]
        again = client.get(FEED, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tag
        assert client.get(FEED, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
        stale = client.get(FEED, headers={"If-None-Match": '"other"'})
        assert stale.status_code == 200 and stale.content == first.content

        _post(config, "second@x", "Second news", "Tue, 05 Mar 2024 10:00:00 +0000")
        second = client.get(FEED, headers={"If-None-Match": tag})
        assert second.status_code == 200 and "Second news" in second.text
        assert second.headers["etag"] != tag

        run(config, "lists", "set", TEAM, "description", "Tenants' news")
        described = client.get(FEED)
        assert "Tenants' news" in described.text and "Second news" in described.text

        # the newest post leaves and another comes (it may get the same row id) before
        # anyone reads the feed: the one that left is not shown
        run(config, "archive", "delete", "second@x", "--list", TEAM)
        _post(config, "third@x", "Third news", "Wed, 06 Mar 2024 10:00:00 +0000")
        third = client.get(FEED)
        assert "Third news" in third.text and "Second news" not in third.text
        assert "First news" in third.text
