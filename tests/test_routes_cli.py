"""`listfed routes` and `listfed peers` as an admin uses them: a config file with routes,
lists made by the CLI, and only what the user sees asserted."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from listfed.cli.app import app
from listfed.config.settings import RouteConfig
from listfed.context import NodeSettings
from listfed.db import listrows, relays
from listfed.federation.check import check, cycles

HERE = "lists.example.org"
TEAM, BOARD, QUIET = f"team@{HERE}", f"board@{HERE}", f"quiet@{HERE}"
PEER_LIST = "coc@lists.nyc.example"
FOREIGN = "friends@groups.example"
SECRET = "s3cret-value-never-to-be-shown"

NODE = f"""
[node]
name = "node.example.org"
domains = ["{HERE}"]
data_dir = "var"

[[peer]]
name = "nyc"
node = "lists.nyc.example"
secret = "{SECRET}"
"""

ROUTES = f"""
[[route]]
name = "national"
from = "{TEAM}"
to = ["{PEER_LIST}", "{BOARD}"]
match = {{ subject_tag = "national" }}
follow_thread = true
prefix = "[philly]"

[[route]]
name = "everything"
from = "{TEAM}"
to = ["{FOREIGN}"]
match = {{ any = true }}
forward = false

[[route]]
name = "back"
from = "{BOARD}"
to = ["{TEAM}"]
"""


def run(*args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout, result.stderr


def node(tmp_path: Path, routes: str = ROUTES, make: tuple[str, ...] = (TEAM, BOARD)) -> str:
    """A node with `routes` in its config and the lists `make`; returns the config path."""
    config = tmp_path / "listfed.toml"
    config.write_text(NODE + routes)
    run("--config", str(config), "init")
    for address in make:
        run("--config", str(config), "lists", "create", address)
    return str(config)


def eml(tmp_path: Path, subject: str, *extra: str, mid: str = "m1@example.net") -> str:
    path = tmp_path / f"{mid}.eml"
    headers = [
        "From: Ada <ada@example.net>",
        f"To: {TEAM}",
        f"Subject: {subject}",
        f"Message-ID: <{mid}>",
        *extra,
    ]
    path.write_bytes(("\r\n".join(headers) + "\r\n\r\nHello.\r\n").encode())
    return str(path)


# routes ls


def test_routes_ls_text_and_json(tmp_path: Path) -> None:
    config = node(tmp_path)
    out, _ = run("--config", config, "routes", "ls")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "FROM", "TO", "MATCH", "FOLLOW", "FORWARD", "PREFIX"]
    assert "national" in lines[1] and f"{PEER_LIST}, {BOARD}" in lines[1]
    assert 'subject_tag = "national"' in lines[1] and "[philly]" in lines[1]
    assert "shared threads only" in lines[3]
    data = json.loads(run("--config", config, "routes", "ls", "--json")[0])
    assert [r["name"] for r in data] == ["national", "everything", "back"]
    assert data[0] == data[0] | {
        "from": TEAM,
        "to": [PEER_LIST, BOARD],
        "match": {"subject_tag": "national"},
        "follow_thread": True,
        "forward": True,
        "prefix": "[philly]",
    }
    assert data[1]["forward"] is False and data[1]["match"] == {"any": True}
    assert data[2]["match"] == {} and data[2]["prefix"] is None


def test_routes_ls_without_routes(tmp_path: Path) -> None:
    config = node(tmp_path, routes="", make=())
    assert "no routes" in run("--config", config, "routes", "ls")[0]
    assert json.loads(run("--config", config, "routes", "ls", "--json")[0]) == []


# routes check


def test_check_clean_config_is_ok_and_explains_targets(tmp_path: Path) -> None:
    config = node(tmp_path)
    out, err = run("--config", config, "routes", "check")
    assert out.splitlines()[-1] == "ok: 3 routes, no errors"
    assert err == ""
    assert f"info: route national -> {PEER_LIST}: signed for peer nyc" in out
    assert f"info: route everything -> {FOREIGN}: sent unsigned (other software)" in out
    assert f"info: route national -> {BOARD}: a list on this node" in out
    assert "info: route back has no match: it relays only threads already shared" in out
    assert "warning" not in out


def test_check_missing_from_list_is_an_error_naming_the_route(tmp_path: Path) -> None:
    config = node(tmp_path, make=(TEAM,))  # board is in the routes but not made
    out, err = run("--config", config, "routes", "check", code=1)
    assert f"error: route back: the list {BOARD} does not exist here" in err
    assert f"error: route national: {BOARD} is at this node's domain {HERE}" in err
    assert "ok:" not in out
    assert "signed for peer nyc" in out  # the rest of the report is still there
    report = json.loads(run("--config", config, "routes", "check", "--json", code=1)[0])
    assert set(report) >= {"errors", "warnings", "info"}
    assert len(report["errors"]) == 2


def test_check_reports_a_cycle_of_two_local_lists_as_info(tmp_path: Path) -> None:
    config = node(tmp_path)
    out, _ = run("--config", config, "routes", "check")
    cycle = f"info: cycle {TEAM} -> {BOARD} -> {TEAM} (safe: the trace stops loops)"
    assert cycle in out.splitlines()
    report = json.loads(run("--config", config, "routes", "check", "--json")[0])
    assert report["errors"] == [] and report["warnings"] == []
    assert any(line.startswith("cycle ") for line in report["info"])


def test_check_warns_about_routes_that_never_relay(tmp_path: Path) -> None:
    routes = f"""
[[route]]
name = "off"
from = "{TEAM}"
to = ["{PEER_LIST}"]
match = {{ any = false }}

[[route]]
name = "deaf"
from = "{TEAM}"
to = ["{FOREIGN}", "{BOARD}"]
"""
    config = node(tmp_path, routes)
    out, _ = run("--config", config, "routes", "check")
    assert "warning: route off can never relay anything: any = false never matches" in out
    assert f"warning: route deaf -> {FOREIGN} can never relay anything" in out
    assert f"warning: route deaf -> {BOARD} can never relay anything" in out
    assert "ok: 2 routes, no errors" in out


def test_cycles_are_found_once_each() -> None:
    a, b, c = "a@x.example", "b@x.example", "c@x.example"
    found = cycles({a: [b, c], b: [c, a], c: [a]})
    assert [line.split(" (")[0] for line in found] == [
        f"cycle {a} -> {b} -> {a}",
        f"cycle {a} -> {b} -> {c} -> {a}",
        f"cycle {a} -> {c} -> {a}",
    ]
    assert cycles({a: [b], b: ["remote@y.example"]}) == []


def test_a_target_that_is_not_an_address_is_an_error() -> None:
    route = RouteConfig(name="r", from_=TEAM, to=("nobody",), match={"any": True})
    report = check(NodeSettings(name="n", domains=(HERE,), routes=(route,)), lambda _a: True)
    assert report.errors == ["route r: the target 'nobody' is not a mail address"]


# routes test


def test_a_tagged_message_goes_by_both_routes(tmp_path: Path) -> None:
    config = node(tmp_path)
    message = eml(tmp_path, "Re: [national] strike fund")
    out, _ = run("--config", config, "routes", "test", message, "--list", TEAM)
    assert out.splitlines() == [
        f"message <m1@example.net> tried on {TEAM}: a simulation, nothing is sent or stored",
        f"route national -> {PEER_LIST}: relay (the subject has the tag [national])",
        f"route national -> {BOARD}: relay (the subject has the tag [national])",
        f"route everything -> {FOREIGN}: relay (any = true)",
    ]
    assert "posted" not in out  # it only simulates
    data = json.loads(
        run("--config", config, "routes", "test", message, "--list", TEAM, "--json")[0]
    )
    assert data["list"] == TEAM and data["message_id"] == "m1@example.net"
    assert data["drop"] is None
    assert [(h["route"], h["target"], h["relay"]) for h in data["hops"]] == [
        ("national", PEER_LIST, True),
        ("national", BOARD, True),
        ("everything", FOREIGN, True),
    ]


def test_an_untagged_message_says_why_not(tmp_path: Path) -> None:
    config = node(tmp_path)
    message = eml(tmp_path, "bake sale")
    out, _ = run("--config", config, "routes", "test", message, "--list", TEAM)
    assert f"route national -> {PEER_LIST}: no (the subject has no [national] tag)" in out
    assert f"route national -> {BOARD}: no (the subject has no [national] tag)" in out
    assert f"route everything -> {FOREIGN}: relay (any = true)" in out
    out, _ = run("--config", config, "routes", "test", message, "--list", BOARD)
    assert f"route back -> {TEAM}: no (it has no match: it carries only threads" in out


def test_a_message_that_has_been_on_the_list_would_be_dropped(tmp_path: Path) -> None:
    config = node(tmp_path)
    trace = f"X-Listfed-Trace: node.example.org {TEAM}"
    message = eml(tmp_path, "[national] again", trace)
    out, _ = run("--config", config, "routes", "test", message, "--list", TEAM)
    lines = out.splitlines()
    assert (
        lines[1] == f"the list would drop it: loop: the trace already names node.example.org {TEAM}"
    )
    assert lines[2].startswith("so no route would run")
    assert len(lines) == 6  # the hops are still shown
    data = json.loads(
        run("--config", config, "routes", "test", message, "--list", TEAM, "--json")[0]
    )
    assert data["drop"].startswith("loop:")


def test_a_list_without_routes_and_a_message_without_message_id(tmp_path: Path) -> None:
    config = node(tmp_path, make=(TEAM, BOARD, QUIET))
    message = tmp_path / "bare.eml"
    message.write_bytes(b"From: ada@example.net\r\nSubject: hi\r\n\r\nHello.\r\n")
    out, _ = run("--config", config, "routes", "test", str(message), "--list", QUIET)
    assert "(generated: the file has no Message-ID)" in out.splitlines()[0]
    assert out.splitlines()[-1] == f"no route starts at {QUIET}"


def test_routes_test_sends_and_writes_nothing(tmp_path: Path) -> None:
    config = node(tmp_path)
    message = eml(tmp_path, "[national] strike fund")
    run("--config", config, "routes", "test", message, "--list", TEAM)
    assert json.loads(run("--config", config, "queue", "ls", "--json")[0]) == []
    assert not any((tmp_path / "var" / "outbox").rglob("*.*"))


def test_routes_test_reads_the_relay_ledger(tmp_path: Path) -> None:
    """What the ledger says (written here as federation writes it) decides the hops: a
    reply follows its thread, a post relayed already is a duplicate and goes nowhere twice."""
    config = node(tmp_path)
    with sqlite3.connect(tmp_path / "var" / "listfed.db") as conn:
        team = listrows.find(conn, TEAM).id
        sent = relays.Relay(team, "m1@example.net", "", PEER_LIST, "out", "sent", 1.0, "national")
        relays.record(conn, sent)
    conn.close()
    reply = eml(tmp_path, "Re: strike fund", "In-Reply-To: <m1@example.net>", mid="r1@example.net")
    out, _ = run("--config", config, "routes", "test", reply, "--list", TEAM)
    assert out.splitlines()[1:] == [
        f"route national -> {PEER_LIST}: relay (its thread is shared with {PEER_LIST})",
        f"route national -> {BOARD}: no (the subject has no [national] tag)",
        f"route everything -> {FOREIGN}: relay (any = true)",
    ]
    again = eml(tmp_path, "[national] strike fund")
    out, _ = run("--config", config, "routes", "test", again, "--list", TEAM)
    assert out.splitlines()[1:] == [
        "the list would drop it: duplicate: <m1@example.net> has been relayed on this list",
        "so no route would run; were it new, the routes would say:",
        f"route national -> {PEER_LIST}: no (route national relays it there)",
        f"route national -> {BOARD}: relay (the subject has the tag [national])",
        f"route everything -> {FOREIGN}: relay (any = true)",
    ]


def test_routes_test_errors_are_clean(tmp_path: Path) -> None:
    config = node(tmp_path)
    _, err = run(
        "--config", config, "routes", "test", str(tmp_path / "nope.eml"), "--list", TEAM, code=1
    )
    assert err.startswith("listfed: cannot read") and "nope.eml" in err
    message = eml(tmp_path, "hello")
    _, err = run("--config", config, "routes", "test", message, "--list", QUIET, code=1)
    assert err.startswith("listfed: no list") and QUIET in err


# peers


def test_peers_ls_never_shows_the_secret(tmp_path: Path) -> None:
    config = node(tmp_path)
    out, err = run("--config", config, "peers", "ls")
    assert "nyc" in out and "lists.nyc.example" in out and "via smarthost" in out
    raw = run("--config", config, "peers", "ls", "--json")[0]
    [peer] = json.loads(raw)
    assert peer == peer | {
        "name": "nyc",
        "node": "lists.nyc.example",
        "domains": ["lists.nyc.example"],
        "smtp": "",
        "secret_set": True,
    }
    assert SECRET not in out + err + raw


def test_peers_keygen_prints_a_new_secret_each_time() -> None:
    first, second = run("peers", "keygen")[0], run("peers", "keygen")[0]
    for out in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}\n", out)
    assert first != second


def test_every_command_and_option_has_help() -> None:
    for group, commands in {"routes": ["ls", "check", "test"], "peers": ["ls", "keygen"]}.items():
        out = run(group, "--help")[0]
        for command in commands:
            assert command in out
            assert "Usage:" in run(group, command, "--help")[0]
    out = run("routes", "test", "--help")[0]
    assert "FILE.eml" in out and "LIST@DOMAIN" in out and "Print JSON" in out
