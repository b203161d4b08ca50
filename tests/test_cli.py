"""The command line as an admin uses it: real config file, real database, --json parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from listfed.cli.app import app
from tests.conftest import DOMAIN, hold_posts

TEAM = f"team@{DOMAIN}"


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTFED_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["init", "--name", "node.example.org", "--domain", DOMAIN])
    assert result.exit_code == 0, result.output
    return tmp_path


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout if code == 0 else result.stderr


def test_init_is_safe_to_run_twice(node_dir: Path) -> None:
    text = (node_dir / "listfed.toml").read_text()
    assert DOMAIN in text
    out = run("init", "--name", "other.example")
    assert "left as it is" in out
    assert (node_dir / "listfed.toml").read_text() == text
    assert (node_dir / "var" / "listfed.db").exists()
    assert (node_dir / "var" / "node.secret").stat().st_mode & 0o077 == 0


def test_lists_lifecycle_with_json(node_dir: Path) -> None:
    run(
        "lists",
        "create",
        TEAM,
        "--policy",
        "open",
        "--owner",
        "Olga <olga@example.net>",
        "--description",
        "The team",
    )
    [entry] = json.loads(run("lists", "ls", "--json"))
    assert entry == entry | {
        "address": TEAM,
        "policy": "open",
        "description": "The team",
        "members": 1,
    }
    run("lists", "set", TEAM, "subject_prefix", "[T]")
    shown = json.loads(run("lists", "show", TEAM, "--json"))
    assert shown["subject_prefix"] == "[T]"
    owners = json.loads(run("members", "ls", TEAM, "--json"))
    assert owners[0] | {"address": "olga@example.net", "role": "owner", "name": "Olga"} == owners[0]
    run("lists", "delete", TEAM, "--yes")
    assert json.loads(run("lists", "ls", "--json")) == []


def test_members_add_reports_invalid_and_adds_the_rest(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    err = run("members", "add", TEAM, "a@example.net", "not an address", "b@example.net", code=1)
    assert "not an address" in err
    listed = json.loads(run("members", "ls", TEAM, "--json"))
    assert [m["address"] for m in listed] == ["a@example.net", "b@example.net"]
    assert set(listed[0]) >= {
        "address",
        "name",
        "role",
        "delivery",
        "bounce_score",
        "delivery_disabled",
    }


def test_members_import_set_remove(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    people = node_dir / "people.txt"
    people.write_text("# board\nAda <ada@example.net>\nbob@example.net\nbob@example.net\n\n")
    out = run("members", "import", TEAM, str(people))
    assert "2 added, 1 skipped, 0 invalid" in out
    run("members", "set", TEAM, "bob@example.net", "delivery", "nomail")
    run("members", "set", TEAM, "ada@example.net", "delivery_disabled", "true")
    by_addr = {m["address"]: m for m in json.loads(run("members", "ls", TEAM, "--json"))}
    assert by_addr["bob@example.net"]["delivery"] == "nomail"
    assert by_addr["ada@example.net"]["delivery_disabled"] is True
    run("members", "remove", TEAM, "bob@example.net")
    assert len(json.loads(run("members", "ls", TEAM, "--json"))) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["lists", "show", "nosuch@" + DOMAIN], "no list"),
        (["lists", "create", "x@not-hosted.example"], "not a domain this node hosts"),
        (["lists", "create", "x-request@" + DOMAIN], "robot suffix"),
        (["lists", "set", TEAM, "policy", "anarchy"], "expected one of"),
        (["lists", "set", TEAM, "colour", "red"], "unknown list setting"),
        (["members", "set", TEAM, "ghost@example.net", "role", "owner"], "not a member"),
        (["held", "show", "99"], "no held message"),
        (["queue", "retry", "q999"], "no queue item"),
    ],
)
def test_errors_are_one_line_on_stderr(node_dir: Path, args: list[str], needle: str) -> None:
    run("lists", "create", TEAM)
    err = run(*args, code=2 if "anarchy" in args or "colour" in args else 1)
    assert needle in err and err.startswith("listfed: ")


def test_broken_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[smtp]\nlmtp = "perhaps"\n')
    err = run("--config", str(bad), "lists", "ls", code=1)
    assert "smtp.lmtp" in err


def test_no_database_yet_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTFED_CONFIG", raising=False)
    err = run("lists", "ls", code=1)
    assert "listfed init" in err


def test_usage_error_exits_2(node_dir: Path) -> None:
    result = CliRunner().invoke(app, ["lists", "create"])
    assert result.exit_code == 2


def test_held_and_queue_listings_parse_as_json(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    assert json.loads(run("held", "ls", "--json")) == []
    assert json.loads(run("queue", "ls", "--json")) == []


@pytest.mark.parametrize("group", ["lists", "members", "held", "queue"])
def test_every_command_has_help(group: str) -> None:
    out = run(group, "--help")
    for word in {
        "lists": ["create", "ls", "show", "set", "delete"],
        "members": ["add", "remove", "ls", "set", "import"],
        "held": ["ls", "show", "approve", "reject", "discard"],
        "queue": ["ls", "retry"],
    }[group]:
        assert word in out
        run(group, word, "--help")


def test_held_commands_act_on_the_database(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    hold_posts(node_dir / "var" / "listfed.db", 1, 3)
    listed = json.loads(run("held", "ls", TEAM, "--json"))
    assert [h["subject"] for h in listed] == ["post 1", "post 2", "post 3"]
    assert set(listed[0]) >= {"id", "list", "sender", "subject", "reason", "received"}
    shown = json.loads(run("held", "show", str(listed[0]["id"]), "--json"))
    assert shown["reason"] == "not a member" and "body 1" in shown["body_start"]
    assert "queued as q" in run("held", "approve", str(listed[0]["id"]))
    run("held", "reject", str(listed[1]["id"]), "--reason", "off topic")
    run("held", "discard", str(listed[2]["id"]))
    assert json.loads(run("held", "ls", "--json")) == []
    queued = json.loads(run("queue", "ls", "--json"))
    assert {(q["kind"], tuple(q["recipients"])) for q in queued} == {
        ("post", (TEAM,)),
        ("delivery:notice", ("p2@example.net",)),
    }
    assert set(queued[0]) >= {
        "id",
        "kind",
        "list",
        "message_id",
        "recipients",
        "attempts",
        "next_attempt",
        "last_error",
    }


def _outbox(node_dir: Path) -> list[tuple[str, str, bytes]]:
    import sqlite3

    with sqlite3.connect(node_dir / "var" / "listfed.db") as db:
        rows = db.execute(
            "SELECT o.kind, b.address, o.data FROM outbox b JOIN outgoing o ON o.id = b.outgoing_id"
        ).fetchall()
    return [(k, a, bytes(d)) for k, a, d in rows]


def test_members_add_with_welcome_queues_the_lists_welcome(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    run("lists", "set", TEAM, "welcome_message", "Hello $address,\\nread the rules.")
    out = run("members", "add", TEAM, "Dave <dave@example.net>", "--welcome")
    assert "welcome queued for 1" in out
    [(kind, rcpt, data)] = _outbox(node_dir)
    assert (kind, rcpt) == ("notice", "dave@example.net")
    assert b"Hello dave@example.net,\r\nread the rules." in data


def test_members_forget_removes_an_address_everywhere(node_dir: Path) -> None:
    for name in ("team", "board"):
        run("lists", "create", f"{name}@{DOMAIN}")
        run("members", "add", f"{name}@{DOMAIN}", "dave@example.net", "erin@example.net")
    out = run("members", "forget", "Dave@Example.NET")
    assert f"removed from board@{DOMAIN}" in out and f"removed from team@{DOMAIN}" in out
    for name in ("team", "board"):
        left = [
            m["address"] for m in json.loads(run("members", "ls", f"{name}@{DOMAIN}", "--json"))
        ]
        assert left == ["erin@example.net"]
    assert "not a valid mail address" in run("members", "forget", "nobody@", code=1)


def test_digest_settings_and_send(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    run("lists", "set", TEAM, "digest_size", "10KB")
    run("lists", "set", TEAM, "digest_period", "weekly")
    run("lists", "set", TEAM, "bounce_threshold", "3")
    [entry] = json.loads(run("lists", "ls", "--json"))
    assert entry | {"digest_size": 10240, "digest_period": "weekly", "bounce_threshold": 3} == entry
    assert "expected one of hourly, daily, weekly" in run(
        "lists", "set", TEAM, "digest_period", "monthly", code=2
    )
    assert "at least 1" in run("lists", "set", TEAM, "bounce_threshold", "0", code=2)
    assert run("digests", "send").strip() == "no digest pending"
    assert "no list" in run("digests", "send", f"nope@{DOMAIN}", code=1)


def test_held_approve_always_accepts_the_sender(node_dir: Path) -> None:
    import time

    from listfed.db import spooled
    from listfed.db.engine import Database
    from listfed.db.models import Held

    run("lists", "create", TEAM)
    db = Database(node_dir / "var" / "listfed.db")
    with db.write() as s:
        s.add(
            Held(
                list_id=1,
                mail_from="p@partner.example",
                sender="P@Partner.example",
                subject="hi",
                message_id="h@x",
                reason="not a member",
                spooled_id=spooled.store(s, b"Subject: hi\r\n\r\nbody\r\n"),
                received=time.time(),
            )
        )
    db.close()
    out = run("held", "approve", "1", "--always")
    assert "added to the list's accept_these_nonmembers" in out
    shown = json.loads(run("lists", "show", TEAM, "--json"))
    assert shown["accept_these_nonmembers"] == ["p@partner.example"]


def test_lists_show_writes_values_as_lists_set_takes_them(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    run("lists", "set", TEAM, "accept_these_nonmembers", "ann@partner.example *@coalition.example")
    run("lists", "set", TEAM, "footer", "Leave: $leave\\nArchive: $archive")
    shown = dict(line.split(": ", 1) for line in run("lists", "show", TEAM).splitlines())
    assert shown["digest_size"] == "30KB"
    assert shown["hold_expiry"] == "14d"
    assert shown["max_message_size"] == (
        "0 (no limit of its own: the node's [smtp] max_message_size applies)"
    )
    assert shown["archive"] == "true" and shown["emergency"] == "false"
    assert shown["accept_these_nonmembers"] == "ann@partner.example *@coalition.example"
    assert shown["footer"] == "Leave: $leave\\nArchive: $archive"
    for key, value in shown.items():  # what it says can be typed back as it stands
        if key not in ("address", "members", "subject_prefix") and not value.startswith("0 ("):
            run("lists", "set", TEAM, key, value)
    assert run("lists", "show", TEAM) == "\n".join(f"{k}: {v}" for k, v in shown.items()) + "\n"
    run("lists", "set", TEAM, "hold_expiry", "0")
    run("lists", "set", TEAM, "digest_size", "0")
    run("lists", "set", TEAM, "max_message_size", "10MB")
    shown = dict(line.split(": ", 1) for line in run("lists", "show", TEAM).splitlines())
    assert shown["hold_expiry"] == "0 (never: a held post waits until someone decides)"
    assert shown["digest_size"] == "0 (no size to wait for: a digest goes out with every post)"
    assert shown["max_message_size"] == "10MB"
    data = json.loads(run("lists", "show", TEAM, "--json"))  # JSON keeps the numbers
    assert (data["hold_expiry"], data["digest_size"], data["max_message_size"]) == (
        0,
        0,
        10 * 1024 * 1024,
    )


def test_a_footer_that_starts_with_the_signature_dashes_is_a_value(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    out = run("lists", "set", TEAM, "footer", "-- \\nleave: $leave")
    assert out == f"{TEAM}: footer set\n"
    assert json.loads(run("lists", "show", TEAM, "--json"))["footer"] == "-- \nleave: $leave"
    run("members", "add", TEAM, "dave@example.net")
    run("members", "set", TEAM, "dave@example.net", "name", "-dave-")
    [dave] = json.loads(run("members", "ls", TEAM, "--json"))
    assert dave["name"] == "-dave-"


def test_members_import_quiet_prints_only_the_summary(node_dir: Path) -> None:
    run("lists", "create", TEAM)
    people = node_dir / "people.txt"
    people.write_text("".join(f"m{i}@example.net\n" for i in range(300)))
    assert run("members", "import", TEAM, str(people), "--quiet") == (
        "300 added, 0 skipped, 0 invalid\n"
    )
    people.write_text("m1@example.net\nnew@example.net\nnot an address\n")
    result = CliRunner().invoke(app, ["members", "import", TEAM, str(people), "-q"])
    assert result.exit_code == 1
    assert result.stdout == "1 added, 1 skipped, 1 invalid\n"
    assert "not an address" in result.stderr
    loud = CliRunner().invoke(app, ["members", "import", TEAM, str(people)])
    assert loud.stdout.splitlines()[:2] == [
        "skipped m1@example.net (already a member)",
        "skipped new@example.net (already a member)",
    ]


PEER_CONFIG = """\
[node]
name = "philly.example"
domains = ["{domain}"]

[[peer]]
name = "nyc"
node = "nyc.example"
domains = ["lists.nyc.example"]
secret = "env:LISTFED_TEST_PEER_SECRET"

[[route]]
name = "national"
from = "{team}"
to = ["coc@lists.nyc.example"]
match = {{ subject_tag = "national" }}
"""


def test_a_command_that_needs_no_peer_secret_runs_without_it(
    node_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LISTFED_TEST_PEER_SECRET", raising=False)
    (node_dir / "listfed.toml").write_text(PEER_CONFIG.format(domain=DOMAIN, team=TEAM))
    run("lists", "create", TEAM)
    assert TEAM in run("lists", "ls")
    assert "national" in run("routes", "ls")
    assert json.loads(run("peers", "ls", "--json"))[0]["secret_set"] is False
    assert json.loads(run("archive", "search", "anything", "--json")) == []
    # the commands that need it name the key and the variable
    missing = "peer[0].secret: environment variable LISTFED_TEST_PEER_SECRET is not set"
    eml = node_dir / "post.eml"
    eml.write_bytes(b"From: a@example.net\r\nSubject: [national] x\r\n\r\nhi\r\n")
    assert run("routes", "test", str(eml), "--list", TEAM, code=1) == f"listfed: {missing}\n"
    assert run("serve", code=1) == f"listfed: {missing}\n"
    doctor = CliRunner().invoke(app, ["doctor", "--offline"])
    assert doctor.exit_code == 1 and f"problem: {missing}" in doctor.stdout
    monkeypatch.setenv("LISTFED_TEST_PEER_SECRET", "s3cret-s3cret-s3cret")
    assert "relay" in run("routes", "test", str(eml), "--list", TEAM)
