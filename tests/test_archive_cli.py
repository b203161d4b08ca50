"""The archive as an admin uses it: import an mbox, search it, read threads, export it.

Real config file, real database, the real command line (and once the installed
`listfed` command in a subprocess, as a shell runs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from listfed.cli.app import app
from tests.conftest import DOMAIN

TEAM = f"team@{DOMAIN}"
OTHER = f"other@{DOMAIN}"


def message(
    mid: str | None,
    subject: str,
    body: str,
    sender: str = "Ann Lee <ann@example.org>",
    date: str = "Mon, 04 Mar 2024 10:00:00 +0000",
    extra: str = "",
) -> bytes:
    head = f"From: {sender}\nSubject: {subject}\nDate: {date}\n"
    if mid:
        head += f"Message-ID: <{mid}>\n"
    return (head + extra + "\n" + body).encode()


MESSAGES = [
    message("root@x", "Rent strike meeting", "We meet on Friday at the café.\n"),
    message(
        "r1@x",
        "Re: Rent strike meeting",
        "> We meet on Friday\nFriday works. Bring the résumé of demands.\n",
        sender="Bob Marsh <bob@example.net>",
        date="Tue, 05 Mar 2024 09:00:00 +0000",
        extra="In-Reply-To: <root@x>\nReferences: <root@x>\n",
    ),
    message(
        "r2@x",
        "Re: Rent strike meeting",
        "And the tenants union will join.\n",
        sender="Chloé Durand <chloe@example.fr>",
        date="Wed, 06 Mar 2024 09:00:00 +0000",
        extra="References: <root@x> <r1@x>\n",
    ),
    message(
        "orphan@x",
        "Re: Minutes",
        "Replying to minutes we never archived.\n",
        date="Fri, 01 Mar 2024 12:00:00 +0000",
        extra="References: <lost@x>\n",
    ),
    message(
        None,
        "Budget",
        "The budget spreadsheet is attached somewhere.\n",
        date="Sun, 10 Dec 2023 08:00:00 +0000",
    ),
    message(
        "mime@x",
        "Flyer",
        "",
        extra=('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n'),
    )
    + b"--b\nContent-Type: text/plain; charset=x-unknown\n\nPrint the flyer\n"
    b"--b\nContent-Type: application/pdf; name=flyer.pdf\n"
    b"Content-Disposition: attachment; filename=flyer.pdf\nContent-Transfer-Encoding: base64"
    b"\n\nJVBERi0=\n--b--\n",
]


def mbox_bytes(messages: list[bytes]) -> bytes:
    out = b""
    for raw in messages:
        body = b"".join(
            (b">" + line if line.lstrip(b">").startswith(b"From ") else line)
            for line in raw.splitlines(keepends=True)
        )
        out += b"From ann@example.org Mon Mar  4 10:00:00 2024\n" + body
        out += (b"" if body.endswith(b"\n") else b"\n") + b"\n"
    return out


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTFED_CONFIG", raising=False)
    run("init", "--name", "node.example.org", "--domain", DOMAIN)
    run("lists", "create", TEAM)
    run("lists", "create", OTHER)
    return tmp_path


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout if code == 0 else result.stderr


def imported(node_dir: Path, messages: list[bytes] = MESSAGES) -> Path:
    path = node_dir / "team.mbox"
    path.write_bytes(mbox_bytes(messages))
    out = run("archive", "import", TEAM, str(path))
    assert f"{len(messages)} read, {len(messages)} added" in out
    return path


def ids(query: str, *extra: str) -> list[str]:
    return [h["message_id"] for h in json.loads(run("archive", "search", query, "--json", *extra))]


def test_search_by_word_phrase_author_date_and_list(node_dir: Path) -> None:
    imported(node_dir)
    assert set(ids("friday")) == {"root@x", "r1@x"}
    assert ids('"tenants union"') == ["r2@x"]
    assert ids('"union tenants"') == []
    assert ids("from:bob") == ["r1@x"]
    assert ids('from:"Chloé Durand"') == ["r2@x"]
    assert ids("from:chloe@example.fr") == ["r2@x"]
    assert ids("cafe") == ["root@x"]  # diacritics either way
    assert ids("resume") == ["r1@x"]
    assert set(ids("subject:rent -friday")) == {"r2@x"}
    assert set(ids("tenants OR budget")) == {"r2@x", ids("budget")[0]}
    assert set(ids("after:2024-03-05 before:2024-03-06")) == {"r1@x"}
    assert ids("friday", "--list", OTHER) == []
    assert ids(f"friday list:{TEAM}", "--limit", "1") in (["root@x"], ["r1@x"])
    assert ids("flyer.pdf") == ["mime@x"]  # attachment names are indexed


def test_search_takes_and_and_not_as_notmuch_and_gmail_users_type_them(node_dir: Path) -> None:
    imported(node_dir)
    assert set(ids("friday AND strike")) == {"root@x", "r1@x"}
    assert ids("strike AND NOT friday") == ["r2@x"]
    assert ids("NOT strike subject:budget") == [ids("budget")[0]]
    assert set(ids("NOT (friday OR tenants) rent")) == set()
    assert set(ids("friday NOT résumé")) == {"root@x"}
    err = run("archive", "search", "strike AND", code=1)
    assert err == "listfed: bad query: AND at position 8 needs a term on each side\n"


def test_search_says_there_is_no_such_list(node_dir: Path) -> None:
    imported(node_dir)
    err = run("archive", "search", "strike list:nosuch", code=1)
    assert err == "listfed: bad query: list:nosuch: there is no such list\n"
    err = run("archive", "search", f"strike OR list:nosuch@{DOMAIN}", code=1)
    assert err == f"listfed: bad query: list:nosuch@{DOMAIN}: there is no such list\n"
    assert ids("strike list:other") == []  # a list with nothing in it is no error


def test_results_are_ranked_and_carry_the_documented_fields(node_dir: Path) -> None:
    imported(node_dir)
    hits = json.loads(run("archive", "search", "rent", "--json"))
    assert [h["message_id"] for h in hits][:1] != []
    hit = next(h for h in hits if h["message_id"] == "r2@x")
    assert hit["list"] == TEAM
    assert hit["from"] == "chloe@example.fr"
    assert hit["subject"] == "Re: Rent strike meeting"
    assert hit["date"] == "2024-03-06T09:00:00Z"
    assert hit["thread_id"] == "root@x"
    assert hit["visibility"] == "public"
    # the subject weighs most: a subject hit ranks above a body-only hit
    run(
        "archive",
        "import",
        TEAM,
        str(
            _write(
                node_dir,
                [
                    message(
                        "body@x",
                        "Other things",
                        "rent rent rent",
                        date="Thu, 07 Mar 2024 09:00:00 +0000",
                    )
                ],
            )
        ),
    )
    order = ids("rent")
    assert order.index("root@x") < order.index("body@x")
    snippet = json.loads(run("archive", "search", "tenants", "--json"))[0]["snippet"]
    assert "**tenants**" in snippet
    text = run("archive", "search", "tenants")
    assert "<r2@x>" in text and "**tenants**" in text


def test_an_author_whose_address_the_archive_mangled_is_found(node_dir: Path) -> None:
    # R-devel's pipermail (since 2018) leaves no address anyone can read.
    mangled = "bbo|ker @end|ng |rom gm@||@com (Ben Bolker)"
    imported(node_dir, [*MESSAGES, message("rdevel@x", "lme4", "A question.\n", sender=mangled)])
    assert ids("from:bolker") == ["rdevel@x"]
    [hit] = json.loads(run("archive", "search", "from:bolker", "--json"))
    assert (hit["from_name"], hit["from"]) == ("Ben Bolker", "bbo|ker @end|ng |rom gm@||@com")


def _write(node_dir: Path, messages: list[bytes], name: str = "more.mbox") -> Path:
    path = node_dir / name
    path.write_bytes(mbox_bytes(messages))
    return path


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('"unclosed', "quote"),
        ("(friday", "parenthes"),
        ("after:2024-13-01", "2024-13-01"),
        ("from:", "from:"),
        ("OR friday", "OR"),
        ("   ", "empty"),
    ],
)
def test_a_malformed_query_is_a_clear_error(node_dir: Path, query: str, says: str) -> None:
    imported(node_dir)
    err = run("archive", "search", query, code=1)
    assert err.startswith("listfed: ")
    assert says.lower() in err.lower()


def test_importing_again_adds_nothing_and_damaged_entries_are_skipped(node_dir: Path) -> None:
    path = imported(node_dir)
    out = run("archive", "import", TEAM, str(path))
    assert f"0 added, {len(MESSAGES)} already archived" in out
    broken = mbox_bytes([MESSAGES[0]]) + b"From x Mon Mar  4 10:00:00 2024\n\x00\x01 junk\n\n"
    broken += mbox_bytes([message("late@x", "Late", "still read\n")])
    damaged = node_dir / "damaged.mbox"
    damaged.write_bytes(broken)
    result = CliRunner().invoke(app, ["archive", "import", TEAM, str(damaged)])
    assert result.exit_code == 0, result.output
    assert "entry 2: skipped" in result.stderr
    assert "1 added" in result.stdout and "1 damaged" in result.stdout
    assert ids("still") == ["late@x"]


def test_a_message_without_message_id_gets_a_stable_one(node_dir: Path) -> None:
    imported(node_dir)
    [budget] = ids("budget")
    assert budget.endswith("@node.example.org")
    imported_again = run("archive", "import", OTHER, str(node_dir / "team.mbox"))
    assert "6 added" in imported_again
    assert ids("budget", "--list", OTHER) == [budget]


def test_export_then_import_elsewhere_keeps_every_byte(node_dir: Path) -> None:
    imported(node_dir)
    out = node_dir / "export.mbox"
    assert f"wrote {len(MESSAGES)} message(s)" in run("archive", "export", TEAM, "-o", str(out))
    assert "6 added" in run("archive", "import", OTHER, str(out))
    for hit in json.loads(run("archive", "search", "after:2000-01-01", "--json", "--limit", "50")):
        mid = hit["message_id"]
        a = CliRunner().invoke(app, ["archive", "show", mid, "--raw", "--list", TEAM])
        b = CliRunner().invoke(app, ["archive", "show", mid, "--raw", "--list", OTHER])
        assert a.exit_code == b.exit_code == 0
        assert a.stdout_bytes == b.stdout_bytes
    originals = {m for m in MESSAGES}
    shown = {
        CliRunner().invoke(app, ["archive", "show", m, "--raw", "--list", TEAM]).stdout_bytes
        for m in ["root@x", "r1@x", "r2@x", "orphan@x", "mime@x"]
    }
    assert shown <= originals


def test_show_raw_and_export_leave_out_relay_signatures(node_dir: Path) -> None:
    signature = "X-Listfed-Signature: v=2; n=philly.example; t=1700000000;\n s=AAAA\n"
    relayed = message("relay@x", "Plans", "News from the other coast.\n", extra=signature)
    imported(node_dir, [relayed])  # archived as it came: the stored raw keeps it
    expected = relayed.replace(signature.encode(), b"")
    shown = CliRunner().invoke(app, ["archive", "show", "relay@x", "--raw"])
    assert shown.exit_code == 0
    assert shown.stdout_bytes == expected
    out = node_dir / "export.mbox"
    run("archive", "export", TEAM, "-o", str(out))
    assert expected in out.read_bytes()
    assert b"signature" not in out.read_bytes().lower()


def test_a_thread_prints_as_a_tree(node_dir: Path) -> None:
    imported(node_dir)
    tree = run("archive", "thread", "<r2@x>")
    lines = tree.splitlines()
    assert "Rent strike meeting  <root@x>" in lines[0]
    assert lines[1].startswith("└─ ") and "Bob Marsh" in lines[1]
    assert lines[2].startswith("   └─ ") and lines[2].endswith("◀")
    [root] = json.loads(run("archive", "thread", "r1@x", "--json"))
    assert root["message_id"] == "root@x"
    assert root["children"][0]["message_id"] == "r1@x"
    assert root["children"][0]["children"][0]["from"] == "chloe@example.fr"
    orphan = run("archive", "thread", "orphan@x")
    assert orphan.splitlines()[0] == "(not archived) <lost@x>"


def test_show_gives_text_and_defects(node_dir: Path) -> None:
    imported(node_dir)
    text = run("archive", "show", "mime@x")
    assert "Subject: Flyer" in text
    assert "Attachment: flyer.pdf" in text
    assert "x-unknown" in text  # the unknown charset is reported
    assert "Print the flyer" in text
    shown = json.loads(run("archive", "show", "root@x", "--json"))
    assert shown["children"] == ["r1@x"]
    assert shown["from"] == "ann@example.org"
    err = run("archive", "show", "nope@x", code=1)
    assert "no archived message <nope@x>" in err


def test_same_message_on_two_lists_shows_the_first_and_says_so(node_dir: Path) -> None:
    path = imported(node_dir)
    run("archive", "import", OTHER, str(path))
    result = CliRunner().invoke(app, ["archive", "show", "root@x"])
    assert result.exit_code == 0
    assert f"also on {OTHER}" in result.stderr
    assert f"List: {TEAM}" in result.stdout


def test_reindex_rebuilds_a_lost_index(node_dir: Path) -> None:
    imported(node_dir)
    import sqlite3

    db = sqlite3.connect(node_dir / "var" / "listfed.db")
    db.execute("INSERT INTO archive_fts(archive_fts) VALUES ('delete-all')")
    db.execute("DELETE FROM stem_vocab")
    db.execute("DELETE FROM thread_node")
    db.commit()
    db.close()
    assert ids("friday") == [] and ids('"friday"') == []
    assert "reindexed 6 message(s)" in run("archive", "reindex")
    assert set(ids("friday")) == set(ids('"friday"')) == {"root@x", "r1@x"}
    assert json.loads(run("archive", "thread", "r2@x", "--json"))[0]["message_id"] == "root@x"


def test_deleting_a_list_removes_its_messages_from_search(node_dir: Path) -> None:
    imported(node_dir)
    run("lists", "delete", TEAM, "--yes")
    assert ids("friday") == []


def test_unknown_list_and_missing_file(node_dir: Path) -> None:
    assert "no list nope@" in run("archive", "import", f"nope@{DOMAIN}", "x.mbox", code=1)
    assert "cannot read" in run("archive", "import", TEAM, "missing.mbox", code=1)
    not_mbox = node_dir / "notes.txt"
    not_mbox.write_text("hello\n")
    assert "not an mbox" in run("archive", "import", TEAM, str(not_mbox), code=1).lower()


def test_the_installed_command_searches_without_loading_the_database_layer(
    node_dir: Path,
) -> None:
    imported(node_dir)
    env = {**os.environ, "LISTFED_CONFIG": str(node_dir / "listfed.toml")}
    script = (
        "import os, sys\n"
        "from listfed.cli.main import main\n"
        "def _exit(code):\n    raise SystemExit(code)\n"
        "os._exit = _exit  # (a quick search ends by it: cli/plainout.leave)\n"
        "sys.argv = ['listfed', 'archive', 'search', 'tenants', '--json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = {'sqlalchemy', 'pydantic'} & set(sys.modules)\n"
        "print('LOADED' if heavy else 'LIGHT', code, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert json.loads(done.stdout)[0]["message_id"] == "r2@x"
    assert done.stderr.strip().endswith("LIGHT 0")
    bad = subprocess.run(
        [sys.executable, "-m", "listfed", "archive", "search", '"oops'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("listfed: bad query")
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["archive", "search", "friday"],
        ["archive", "search", "friday", "--json", "--limit", "1"],
        ["archive", "search", "--list", TEAM, "tenants OR budget"],
        ["archive", "search", "-friday subject:rent"],
        ["archive", "search", "--", "-friday subject:rent"],
        ["archive", "search", '"unclosed'],
        ["archive", "search", "friday", "--list", "team"],
        ["archive", "search", "friday", "--list", f"nope@{DOMAIN}"],
    ],
)
def test_the_quick_search_answers_as_the_full_command_line_does(
    node_dir: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from listfed.cli import quicksearch as quick

    imported(node_dir)
    full = CliRunner().invoke(app, ["--config", "listfed.toml", *args])
    capsys.readouterr()
    code = quick.search(["-c", "listfed.toml", *args])
    out, err = capsys.readouterr()
    assert (code, out, err) == (full.exit_code, full.stdout, full.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["archive", "search", "--help"],
        ["archive", "search", "friday", "--limit", "0"],
        ["archive", "search", "friday", "--limti", "3"],
        ["archive", "search", "friday", "--limit", "²"],
        ["archive", "search"],
        ["archive", "thread", "x@y"],
        ["lists", "ls"],
    ],
)
def test_anything_else_is_left_to_the_full_command_line(args: list[str]) -> None:
    from listfed.cli import quicksearch as quick

    assert quick.search(args) is None


def test_after_an_import_live_archiving_indexes_row_by_row_again(node_dir: Path) -> None:
    import sqlite3

    from listfed.archive import record
    from listfed.db import compressed

    imported(node_dir)
    db = sqlite3.connect(node_dir / "var" / "listfed.db", isolation_level=None)
    compressed.register(db)  # as every connection of listfed's has it (schema v19)
    assert db.execute("SELECT COUNT(*) FROM meta WHERE key = 'archive_fts_batch'").fetchone() == (
        0,
    )
    (list_id,) = db.execute("SELECT id FROM mlist WHERE local = 'team'").fetchone()
    db.execute("BEGIN IMMEDIATE")
    item = record.prepare(message("live@x", "Live", "a zeppelin arrives\n"), "node.example.org")
    record.add(db, list_id, item, 0.0)
    db.execute("COMMIT")
    db.close()
    assert ids("zeppelin") == ["live@x"]
    # each message is in the index once, however many times it was imported
    assert "0 added" in run("archive", "import", TEAM, str(node_dir / "team.mbox"))
    assert ids("friday") and len(ids("friday")) == 2


def test_conditions_that_keep_few_of_the_best_matches_still_find_theirs(node_dir: Path) -> None:
    crowd = [
        message(
            f"a{i}@x",
            f"Strike strike {i}",
            "strike " * 5,
            date=f"Mon, 04 Mar 2024 10:{i % 60:02d}:00 +0000",
        )
        for i in range(260)
    ]
    run("archive", "import", TEAM, str(_write(node_dir, crowd, "crowd.mbox")))
    few = [message(f"b{i}@x", f"Notes {i}", "one strike mentioned once\n") for i in range(3)]
    run("archive", "import", OTHER, str(_write(node_dir, few, "few.mbox")))
    assert sorted(ids(f"strike list:{OTHER}")) == ["b0@x", "b1@x", "b2@x"]
    assert sorted(ids("strike", "--list", OTHER)) == ["b0@x", "b1@x", "b2@x"]
    assert len(ids("strike", "--limit", "300")) == 263


def _crowd(node_dir: Path) -> None:
    """30 posts saying "strike", imported oldest first; the oldest says it in its subject
    (the best match by bm25). Then 5 on the other list, older still, saying it once."""
    crowd = [
        message(
            f"c{i}@x",
            "Strike strike strike" if i == 0 else f"Notes {i}",
            "a strike was mentioned\n",
            date=f"Mon, {1 + i % 28:02d} Apr 2024 10:00:00 +0000",
        )
        for i in range(30)
    ]
    run("archive", "import", TEAM, str(_write(node_dir, crowd, "crowd.mbox")))
    old = [message(f"o{i}@x", f"Old {i}", "one strike\n", date="Mon, 01 Jan 2018 10:00:00 +0000")
           for i in range(5)]  # fmt: skip
    run("archive", "import", OTHER, str(_write(node_dir, old, "old.mbox")))


def test_a_query_matching_more_than_the_window_ranks_the_newest_and_says_so(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listfed.archive import search as searching

    _crowd(node_dir)
    monkeypatch.setattr(searching, "WINDOW", 10)
    result = CliRunner().invoke(app, ["archive", "search", "strike", "--limit", "50", "--json"])
    hits = [h["message_id"] for h in json.loads(result.stdout)]
    assert len(hits) == 10 and "c0@x" not in hits  # the newest 10 (the other list's last)
    assert result.stderr.strip() == (
        "(ranked among the newest 10 of 35 matches; --all ranks every match)"
    )
    everything = ids("strike", "--limit", "50", "--all")
    assert len(everything) == 35 and everything[0] == "c0@x"
    # the window is of what the whole query keeps: an older list's posts are still found
    assert sorted(ids(f"strike list:{OTHER}")) == [f"o{i}@x" for i in range(5)]
    assert ids("strike before:2019-01-01", "--limit", "50") == ids(
        f"strike list:{OTHER}", "--limit", "50"
    )
    monkeypatch.setattr(searching, "WINDOW", 3)
    result = CliRunner().invoke(app, ["archive", "search", f"strike list:{OTHER}"])
    assert "ranked among the newest 3 matches" in result.stderr  # not counted: conditions
    monkeypatch.setattr(searching, "WINDOW", 100)
    result = CliRunner().invoke(app, ["archive", "search", "strike"])
    assert result.stderr == "" and ids("strike", "--limit", "50")[0] == "c0@x"


def test_a_date_range_finds_posts_archived_out_of_date_order(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date range is looked for in the rowid ranges its posts hold (archive/search.py
    _spans): old archives imported between new posts, in more runs than there are spans,
    are all found and ranked as when every match is judged."""
    from listfed.archive import search as searching

    for batch in range(9):  # 2015 posts in batches 0, 2, 4, 6, 8; 2024 ones between
        year = 2015 if batch % 2 == 0 else 2024
        posts = [
            message(
                f"b{batch}-{i}@x",
                f"Batch {batch}",
                "strike " * (1 + (batch * 4 + i) % 7) + "today\n",
                date=f"Mon, {1 + i:02d} Jun {year} 10:00:00 +0000",
            )
            for i in range(4)
        ]
        run("archive", "import", TEAM, str(_write(node_dir, posts, f"b{batch}.mbox")))
    old = ids("strike before:2016-01-01", "--limit", "50")
    assert sorted(old) == sorted(f"b{b}-{i}@x" for b in (0, 2, 4, 6, 8) for i in range(4))
    new = ids("strike after:2024-01-01", "--limit", "50")
    assert sorted(new) == sorted(f"b{b}-{i}@x" for b in (1, 3, 5, 7) for i in range(4))
    june = ids("strike after:2015-06-02 before:2015-06-04", "--limit", "50")
    assert sorted(june) == sorted(f"b{b}-{i}@x" for b in (0, 2, 4, 6, 8) for i in (1, 2))
    assert ids("strike before:2010-01-01") == []
    best = ids("strike before:2016-01-01", "--limit", "3")
    monkeypatch.setattr(searching, "_spans", lambda _rowids: [(None, None)])
    assert ids("strike before:2016-01-01", "--limit", "50") == old  # every match judged
    assert ids("strike after:2024-01-01", "--limit", "50") == new
    assert ids("strike before:2016-01-01", "--limit", "3") == best == old[:3]


def test_export_to_stdout_with_a_dash(node_dir: Path) -> None:
    imported(node_dir)
    result = CliRunner().invoke(app, ["archive", "export", TEAM, "-o", "-"])
    assert result.exit_code == 0, result.output
    run("archive", "export", TEAM, "-o", "file.mbox")
    assert result.stdout_bytes == (node_dir / "file.mbox").read_bytes()
    assert result.stdout_bytes.count(b"\nFrom ") + 1 == len(MESSAGES)
    assert result.stderr == f"wrote {len(MESSAGES)} message(s) to stdout\n"
    assert not (node_dir / "-").exists()
