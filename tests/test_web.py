"""The web face's pages (SPEC §10) through starlette's TestClient, over a real node
database that the real command line made and filled (`archive import`)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from typer.testing import CliRunner

from listfed.archive.mbox import read_mbox
from listfed.cli.app import app as cli
from listfed.web.app import build
from listfed.web.render import at, marked
from tests.conftest import DOMAIN
from tests.test_archive_cli import MESSAGES, OTHER, TEAM, mbox_bytes, message

SECRET = f"secret@{DOMAIN}"  # visibility members
HIDDEN = f"hidden@{DOMAIN}"  # visibility private
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = (
    b"From: \"<script>alert('n')</script>\" <evil@example.com>\n"
    b'Subject: <img src=x onerror="alert(1)"> & more\n'
    b"Date: Thu, 07 Mar 2024 10:00:00 +0000\n"
    b"Message-ID: <evil/1?#%@x>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/alternative; boundary="b"\n\n'
    b"--b\nContent-Type: text/html\n\n"
    b'<p>Hi</p><script>alert(2)</script><a href="javascript:x">&lt;b&gt;bold&lt;/b&gt;</a>'
    b"\x1b\x0c control\n"
    b"--b--\n"
)
RELAYED = message(
    "relay@x",
    "From elsewhere",
    "Relayed in from two lists; write to dana@example.com.\n",
    sender="Dana <dana@example.com>",
    date="Thu, 07 Mar 2024 11:00:00 +0000",
    extra="X-Listfed-Trace: nyc.example coc@lists.nyc.example\n"
    "X-Listfed-Trace: atl.example coc@lists.atl.example\n",
)
SECRET_POST = message("hush@x", "Members only", "Nobody outside reads this.\n")


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node with a public list (team), another (other), a members and a private one."""
    base = tmp_path_factory.mktemp("web")
    config = base / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    for address in (TEAM, OTHER, SECRET, HIDDEN):
        run(config, "lists", "create", address)
    run(config, "lists", "set", TEAM, "description", "Tenants <organising> & news")
    run(config, "lists", "set", SECRET, "visibility", "members")
    run(config, "lists", "set", HIDDEN, "visibility", "private")
    (base / "team.mbox").write_bytes(mbox_bytes([*MESSAGES, HOSTILE, RELAYED]))
    run(config, "archive", "import", TEAM, str(base / "team.mbox"))
    (base / "secret.mbox").write_bytes(mbox_bytes([SECRET_POST]))
    for address in (SECRET, HIDDEN):
        run(config, "archive", "import", address, str(base / "secret.mbox"))
    return base


@pytest.fixture
def client(node: Path) -> Iterator[TestClient]:
    with TestClient(build(node / "var" / "listfed.db")) as c:
        yield c


def m(address: str, mid: str, suffix: str = "") -> str:
    return f"/{address}/m/{quote(mid, safe='')}{suffix}"


def test_the_front_page_lists_readable_lists_only(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "team at lists.example.org" in page.text
    assert "other at lists.example.org" in page.text
    assert "Tenants &lt;organising&gt; &amp; news" in page.text
    assert "secret" not in page.text and "hidden" not in page.text
    row = re.search(r"team at lists.example.org</a></td>.*?</tr>", page.text, re.S)
    assert row is not None
    assert '<td class="n">8</td>' in row.group(0) and "2024-03-07" in row.group(0)


def test_a_list_page_shows_join_address_threads_months_and_links(client: TestClient) -> None:
    page = client.get(f"/{TEAM}/")
    assert page.status_code == 200
    assert f'href="mailto:team-join@{DOMAIN}"' in page.text
    assert f"team-join at {DOMAIN}" in page.text
    assert "<form" in page.text and f'action="/{TEAM}/search"' in page.text
    assert f'action="/{TEAM}/subscribe"' in page.text and 'name="email"' in page.text
    assert f'href="/{TEAM}/atom.xml"' in page.text
    assert f'href="/{TEAM}/2024/03.mbox"' in page.text  # the newest month
    assert f'href="/{TEAM}/2023/12/"' in page.text
    # threads by last activity: the relayed post (7 March, 11:00) is newest
    order = [page.text.index(s) for s in ("From elsewhere", "Rent strike meeting", "Budget")]
    assert order == sorted(order)
    assert "3 posts" in page.text  # the rent strike thread
    assert f'href="/{TEAM}/t/root%40x"' in page.text
    assert client.get(f"/{TEAM}", follow_redirects=False).headers["location"] == f"/{TEAM}/"


def test_a_month_shows_the_threads_active_that_month(client: TestClient) -> None:
    march = client.get(f"/{TEAM}/2024/03/")
    assert march.status_code == 200
    assert "Rent strike meeting" in march.text and "Budget" not in march.text
    december = client.get(f"/{TEAM}/2023/12/")
    assert "Budget" in december.text and "Rent strike" not in december.text
    assert client.get(f"/{TEAM}/2024/13/").status_code == 404
    assert "No posts yet" in client.get(f"/{TEAM}/2019/01/").text


def test_a_post_page(client: TestClient) -> None:
    page = client.get(m(TEAM, "r1@x"))
    assert page.status_code == 200
    text = page.text
    assert "Re: Rent strike meeting" in text and "Bob Marsh" in text
    assert "2024-03-05 09:00" in text
    assert "Bring the résumé of demands." in text
    assert "bob@example.net" not in text
    assert f'href="/{TEAM}/m/root%40x"' in text  # its parent
    assert f'href="/{TEAM}/m/r2%40x"' in text  # its reply
    assert f'href="/{TEAM}/t/r1%40x"' in text  # the thread
    assert f'href="mailto:{TEAM}?In-Reply-To=%3Cr1%40x%3E&amp;subject=Re%3A%20Rent' in text
    flyer = client.get(m(TEAM, "mime@x")).text
    assert "flyer.pdf" in flyer and "application/pdf" in flyer and "5 bytes" in flyer  # %PDF-
    assert client.get(m(TEAM, "nope@x")).status_code == 404
    assert client.get(m(TEAM, "r1@x", "/other")).status_code == 404


def test_a_relayed_post_names_the_lists_it_also_went_to(client: TestClient) -> None:
    page = client.get(m(TEAM, "relay@x")).text
    assert "Also sent to: coc at lists.nyc.example, coc at lists.atl.example" in page
    assert "dana at example.com" in page and "dana@example.com" not in page


def test_raw_is_the_message_as_archived(client: TestClient) -> None:
    raw = client.get(m(TEAM, "mime@x", "/raw"))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.content == MESSAGES[5]


def test_message_ids_with_slashes_and_odd_characters_are_percent_encoded(
    client: TestClient,
) -> None:
    mid = "evil/1?#%@x"
    page = client.get(m(TEAM, mid))
    assert page.status_code == 200
    assert f'href="/{TEAM}/t/{quote(mid, safe="")}"' in page.text
    assert client.get(m(TEAM, mid, "/raw")).content == HOSTILE
    assert client.get(f"/{TEAM}/t/{quote(mid, safe='')}").status_code == 200


def test_text_from_mail_is_escaped_and_html_is_shown_as_text(client: TestClient) -> None:
    pages = [
        client.get(m(TEAM, "evil/1?#%@x")).text,
        client.get(f"/{TEAM}/").text,
        client.get(f"/{TEAM}/t/{quote('evil/1?#%@x', safe='')}").text,
        client.get(f"/{TEAM}/search", params={"q": "bold"}).text,
    ]
    for text in pages:
        assert "<script" not in text and "<img" not in text and "javascript:" not in text
    post = pages[0]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; more" in post
    assert "&lt;script&gt;alert(&#39;n&#39;)&lt;/script&gt;" in post  # the author's name
    assert "&lt;b&gt;bold&lt;/b&gt;" in post  # the HTML part's text, never its markup
    assert "<mark>bold</mark>" in pages[3]


def test_a_thread_page_shows_the_tree_with_every_post(client: TestClient) -> None:
    page = client.get(f"/{TEAM}/t/{quote('r2@x', safe='')}")
    assert page.status_code == 200
    text = page.text
    for words in ("We meet on Friday", "Friday works", "tenants union will join"):
        assert words in text
    depths = re.findall(r'<div class="d(\d+)">\s*<article class="post" id="([^"]+)"', text)
    assert depths == [("0", "root%40x"), ("1", "r1%40x"), ("2", "r2%40x")]
    orphan = client.get(f"/{TEAM}/t/orphan%40x").text
    assert "a message this archive does not have" in orphan and "Replying to minutes" in orphan


def _mbox_ids(data: bytes, tmp_path: Path) -> list[str]:
    """The Message-IDs of an mbox, read by the archive's own reader."""
    path = tmp_path / "got.mbox"
    path.write_bytes(data)
    found = [re.search(rb"^Message-ID: (.*)$", e.raw, re.M) for e in read_mbox(path)]
    return [m.group(1).decode() if m else "" for m in found]


def test_thread_and_month_mbox(client: TestClient, tmp_path: Path) -> None:
    thread = client.get(f"/{TEAM}/t/r1%40x.mbox")
    assert thread.status_code == 200
    assert thread.headers["content-type"] == "application/mbox"
    assert _mbox_ids(thread.content, tmp_path) == ["<root@x>", "<r1@x>", "<r2@x>"]
    month = client.get(f"/{TEAM}/2023/12.mbox")
    assert month.headers["content-type"] == "application/mbox"
    assert len(_mbox_ids(month.content, tmp_path)) == 1 and b"Budget" in month.content
    assert client.get(f"/{TEAM}/2023/13.mbox").status_code == 404


def test_a_month_mbox_imports_into_another_archive_byte_for_byte(
    client: TestClient, node: Path
) -> None:
    data = client.get(f"/{TEAM}/2024/03.mbox").content
    (node / "march.mbox").write_bytes(data)
    config = node / "listfed.toml"
    out = run(config, "archive", "import", OTHER, str(node / "march.mbox"))
    assert "7 read, 7 added" in out
    for mid in ("root@x", "r1@x", "mime@x", "evil/1?#%@x", "relay@x"):
        assert client.get(m(OTHER, mid, "/raw")).content == client.get(m(TEAM, mid, "/raw")).content
    assert "0 added, 7 already archived" in run(
        config, "archive", "import", OTHER, str(node / "march.mbox")
    )


def test_the_atom_feed(client: TestClient) -> None:
    response = client.get(f"/{TEAM}/atom.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 8
    updated = [e.findtext(f"{ATOM}updated") for e in entries]
    assert updated == sorted(updated, reverse=True)  # newest first
    assert feed.findtext(f"{ATOM}updated") == updated[0] == "2024-03-07T11:00:00Z"
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 8 and all(i and i.startswith("urn:uuid:") for i in ids)
    again = ET.fromstring(client.get(f"/{TEAM}/atom.xml").content)
    assert [e.findtext(f"{ATOM}id") for e in again.findall(f"{ATOM}entry")] == ids
    first = entries[0]
    assert first.findtext(f"{ATOM}title") == "From elsewhere"
    assert first.findtext(f"{ATOM}author/{ATOM}name") == "Dana"
    link = first.find(f"{ATOM}link")
    assert link is not None and link.get("href") == f"http://testserver/{TEAM}/m/relay%40x"
    assert b"@example" not in response.content  # no author's address anywhere
    hostile = next(e for e in entries if "onerror" in (e.findtext(f"{ATOM}title") or ""))
    assert "<b>bold</b>" in (hostile.findtext(f"{ATOM}content") or "")  # text, escaped in XML


def test_search_in_a_list_and_everywhere(client: TestClient) -> None:
    page = client.get(f"/{TEAM}/search", params={"q": "friday"})
    assert page.status_code == 200
    assert f'href="/{TEAM}/m/root%40x"' in page.text and f'href="/{TEAM}/m/r1%40x"' in page.text
    assert "<mark>Friday</mark>" in page.text
    everywhere = client.get("/search", params={"q": "nobody"})
    assert everywhere.status_code == 200
    assert "No messages found" in everywhere.text  # the members and private lists' post
    assert "Members only" not in client.get("/search", params={"q": "subject:members"}).text
    assert "Friday" in client.get("/search", params={"q": "friday"}).text
    assert client.get(f"/{TEAM}/search").status_code == 200  # no query: the form


def test_search_pages_hold_twenty(client: TestClient, node: Path) -> None:
    many = [
        message(
            f"p{i}@x", f"Paging {i}", "paging words\n", date=f"Mon, 01 Jan 2024 10:{i:02d}:00 +0000"
        )
        for i in range(25)
    ]
    (node / "paging.mbox").write_bytes(mbox_bytes(many))
    run(node / "listfed.toml", "archive", "import", OTHER, str(node / "paging.mbox"))
    first = client.get(f"/{OTHER}/search", params={"q": "paging"}).text
    second = client.get(f"/{OTHER}/search", params={"q": "paging", "page": "2"}).text
    assert first.count("<li><a href=") == 20 and second.count("<li><a href=") == 5
    assert "page=2" in first and "Next results" not in second
    # every hit shown has its snippet, on either page
    for page, hits in ((first, 20), (second, 5)):
        snippets = [p.split("</p>")[0] for p in page.split('<p class="snippet">')[1:]]
        assert len(snippets) == hits and all("<mark>" in s.lower() for s in snippets)


def test_a_search_over_the_window_says_so_and_all_ranks_every_match(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listfed.archive import search as searching

    monkeypatch.setattr(searching, "WINDOW", 2)
    page = client.get(f"/{TEAM}/search", params={"q": "friday"}).text
    assert "Ranked among the newest 2 matches" in page  # a list: not counted
    assert 'href="?q=friday&amp;all=1"' in page
    everything = client.get(f"/{TEAM}/search", params={"q": "friday", "all": "1"}).text
    assert "Ranked among" not in everything and 'name="all" value="1"' in everything
    monkeypatch.setattr(searching, "WINDOW", 1000)
    assert "Ranked among" not in client.get(f"/{TEAM}/search", params={"q": "friday"}).text


@pytest.mark.parametrize(
    "query", ['"unclosed', "(friday", "after:2024-13-01", "OR friday", "friday AND", "list:nosuch"]
)
def test_a_malformed_query_is_a_400_that_says_what_is_wrong(client: TestClient, query: str) -> None:
    for path in (f"/{TEAM}/search", "/search"):
        page = client.get(path, params={"q": query})
        assert page.status_code == 400
        assert '<p class="error">bad query: ' in page.text
    assert "2024-13-01" in client.get("/search", params={"q": "after:2024-13-01"}).text
    assert (
        "list:nosuch: there is no such list"
        in client.get("/search", params={"q": "list:nosuch"}).text
    )


def test_a_search_naming_a_list_the_visitor_may_not_read_is_as_for_no_list(
    client: TestClient,
) -> None:
    for path in (f"/{TEAM}/search", "/search"):
        for address in (SECRET, HIDDEN):
            local = address.split("@")[0]
            for query in (f"friday list:{local}", f"friday list:{address}"):
                page = client.get(path, params={"q": query})
                missing = client.get(path, params={"q": query.replace(local, "nosuch")})
                assert page.status_code == missing.status_code == 400, (path, query)
                assert page.text.replace(local, "nosuch") == missing.text


def _every_page(address: str, mid: str) -> list[str]:
    enc = quote(mid, safe="")
    return [
        f"/{address}/",
        f"/{address}",
        f"/{address}/2024/03/",
        f"/{address}/2024/03.mbox",
        f"/{address}/m/{enc}",
        f"/{address}/m/{enc}/raw",
        f"/{address}/t/{enc}",
        f"/{address}/t/{enc}.mbox",
        f"/{address}/search?q=nobody",
        f"/{address}/atom.xml",
    ]


def test_members_and_private_lists_are_404_exactly_as_a_missing_list(client: TestClient) -> None:
    for address in (SECRET, HIDDEN):
        for path, missing in zip(
            _every_page(address, "hush@x"), _every_page(f"nope@{DOMAIN}", "hush@x"), strict=True
        ):
            got, expected = client.get(path, follow_redirects=False), client.get(missing)
            assert got.status_code == expected.status_code == 404, path
            assert got.content == expected.content, path
            assert got.headers == expected.headers, path


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in (
        "/",
        "/style.css",
        f"/{TEAM}/",
        "/nothing/here",
        "/search?q=%22x",
        f"/{TEAM}/atom.xml",
        m(TEAM, "root@x", "/raw"),
        f"/{TEAM}/2024/03.mbox",
        f"/{SECRET}/",
    ):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    assert client.post("/").status_code == 405


def test_pages_use_no_script_and_nothing_from_other_hosts(client: TestClient) -> None:
    for path in ("/", f"/{TEAM}/", m(TEAM, "r1@x"), f"/{TEAM}/t/root%40x", "/search?q=rent"):
        text = client.get(path).text
        assert "<script" not in text and " style=" not in text
        assert not re.search(r'(?:src|href)="(?:https?:)?//', text), path
    css = client.get("/style.css")
    assert css.headers["content-type"].startswith("text/css") and "@media" in css.text
    assert "url(" not in css.text and "@import" not in css.text


def test_feed_links_use_the_public_address_when_there_is_one(node: Path) -> None:
    app = build(node / "var" / "listfed.db", base_url="https://lists.example.org")
    with TestClient(app) as client:
        feed = ET.fromstring(client.get(f"/{TEAM}/atom.xml").content)
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert f"https://lists.example.org/{TEAM}/atom.xml" in links
    assert f"https://lists.example.org/{TEAM}/m/relay%40x" in links


def test_a_post_with_a_very_long_word_is_shown_and_its_addresses_hidden(
    tmp_path: Path,
) -> None:
    """Words of 60,000 characters (long lines are accepted up to 1 MiB): finding the
    addresses in them once read each word once per character in it, minutes a page."""
    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    run(config, "lists", "create", TEAM)
    word = "x" * 60_000  # three of them stay within the 200,000 characters a page shows
    body = f"Write to dana@example.com or {word}@example.org, not {word}@ or {word}.\n"
    (tmp_path / "long.mbox").write_bytes(mbox_bytes([message("long@x", "Long", body)]))
    run(config, "archive", "import", TEAM, str(tmp_path / "long.mbox"))
    with TestClient(build(tmp_path / "var" / "listfed.db")) as client:
        for path in (m(TEAM, "long@x"), f"/{TEAM}/t/{quote('long@x', safe='')}"):
            page = client.get(path)
            assert page.status_code == 200
            assert "dana at example.com" in page.text and "dana@example.com" not in page.text
            assert f"{word} at example.org, not {word}@ or {word}." in page.text


def test_a_search_for_part_of_an_address_does_not_show_the_address(tmp_path: Path) -> None:
    """The snippet marks the word searched for; an address it is part of is still
    written "user at domain" (the marks once split it, and the rest showed as written)."""
    config = tmp_path / "listfed.toml"
    run(config, "init", "--name", "node.example.org", "--domain", DOMAIN)
    run(config, "lists", "create", TEAM)
    body = "Write to dana@example.com about the rota.\n"
    (tmp_path / "a.mbox").write_bytes(mbox_bytes([message("addr@x", "Rota", body)]))
    run(config, "archive", "import", TEAM, str(tmp_path / "a.mbox"))
    with TestClient(build(tmp_path / "var" / "listfed.db")) as client:
        for query in ("dana", "example"):
            page = client.get(f"/{TEAM}/search", params={"q": query}).text
            assert f"<mark>{query}</mark>" in page, page
            assert "@example.com" not in page and "dana@" not in page
            assert " at " in page.split('class="snippet"')[1].split("</p>")[0]


# What `at` does, as one regex: fine on short text, read once per position on long words.
_AS_REGEX = re.compile(r"([^\s<>()\[\]\"',;:@]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


@given(st.text(alphabet="ab1-.@ \n<>\"',;:[]()é\u2003", max_size=40))
def test_at_writes_every_address_as_user_at_domain(text: str) -> None:
    assert at(text) == _AS_REGEX.sub(r"\1 at \2", text)
    assert at("Ann <ann@example.org>, bob@x.example; c@d") == (
        "Ann <ann at example.org>, bob at x.example; c@d"
    )


# a snippet as FTS5 makes it: words and what is between them, some words marked
_PIECES = st.lists(
    st.tuples(st.sampled_from(["ann", "x1", "example", "org", "b-c", "é"]), st.booleans()),
    max_size=8,
)
_BETWEEN = st.lists(st.sampled_from(["", " ", "@", ".", "<", "&", ", "]), min_size=9, max_size=9)


@given(_PIECES, _BETWEEN)
@example([("ann", False), ("example", True), ("org", False)], ["", "@", ".", *[""] * 6])
@example([("ann", True), ("example", False), ("org", True)], ["<", "@", ".", *[""] * 6])
@example([("ann", False), ("ann", False), ("é", True)], ["", "@", ".", *[""] * 6])  # no label
def test_a_marked_snippet_hides_every_address_its_text_holds(
    words: list[tuple[str, bool]], gaps: list[str]
) -> None:
    plain = "".join(gap + word for gap, (word, _m) in zip(gaps, words)) + gaps[len(words)]
    snippet = (
        "".join(gap + (f"**{word}**" if mark else word) for gap, (word, mark) in zip(gaps, words))
        + gaps[len(words)]
    )
    shown = str(marked(snippet))
    assert html.unescape(re.sub("</?mark>", "", shown)) == at(plain)
    assert shown.count("<mark>") == sum(mark for _w, mark in words)
