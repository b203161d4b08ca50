"""The command line starts quickly (issue 20): a command imports what it runs and no
more, and typer's values are converted without pydantic where they can be (cli/coercion.py,
compared here with typer's own conversion). Times are measured by bench/cli.py, not here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sqlite3
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer.testing import CliRunner

import listfed
from listfed import configcache
from listfed.archive.opendb import schema_version
from listfed.cli.app import app
from listfed.cli.coercion import QuickValue, quicken
from listfed.cli.commands import EVERY, SINGLE, build
from listfed.db.version import SCHEMA_VERSION
from listfed.ops import lists, listview
from tests.conftest import DOMAIN, hold_posts
from tests.loaded import HEAVY, node_with_a_list, run_listfed

TEAM = f"team@{DOMAIN}"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return node_with_a_list(tmp_path_factory.mktemp("node"), TEAM)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["lists", "--help"],
        ["members", "add", "--help"],
        ["held", "approve", "--help"],
        ["archive", "export", "--help"],
        ["serve", "--help"],
        ["doctor", "--help"],
        ["lists", "ls"],
        ["lists", "ls", "--json"],
        ["lists", "show", TEAM],
        ["routes", "ls"],
        ["peers", "ls"],
        ["archive", "search", "anything"],
        ["members", "ls", TEAM],
        ["held", "ls"],
        ["queue", "ls", "--json"],
        ["doctor", "--offline"],
        ["report"],
    ],
)
def test_a_command_loads_only_what_it_runs(node: Path, args: list[str]) -> None:
    env = {**os.environ, "LISTFED_CONFIG": str(node / "listfed.toml")}
    code, modules, out = run_listfed(env, args)
    assert code in (0, None), out
    assert HEAVY & modules == set()
    assert "Traceback" not in out


def _routed_node(tmp_path: Path) -> dict[str, str]:
    """A node with a route and a bridge (the environment that names its config)."""
    config = tmp_path / "listfed.toml"
    runner = CliRunner()
    for step in (["init", "--domain", DOMAIN], ["lists", "create", TEAM]):
        assert runner.invoke(app, ["--config", str(config), *step]).exit_code == 0
    with config.open("a") as more:
        more.write(
            f'[[route]]\nname = "out"\nfrom = "{TEAM}"\nto = ["coc@lists.elsewhere.example"]\n'
            f'[[bridge]]\nname = "b1"\nlist = "{TEAM}"\nforeign = "x@lists.other.example"\n'
            f'address = "bridge@{DOMAIN}"\n'
        )
    return {**os.environ, "LISTFED_CONFIG": str(config)}


@pytest.mark.parametrize(
    "args", [["routes", "check"], ["bridges", "ls"], ["bridges", "ls", "--json"]]
)
def test_routes_check_and_bridges_ls_load_no_orm(tmp_path: Path, args: list[str]) -> None:
    """(bridges sync runs a mailbox pass, and loads what that needs.)"""
    code, modules, out = run_listfed(_routed_node(tmp_path), args)
    assert code in (0, None), out
    assert "ok: 1 route, no errors" in out if args[0] == "routes" else "b1" in out
    assert HEAVY & modules == set()
    assert "Traceback" not in out


def test_routes_test_loads_no_orm(tmp_path: Path) -> None:
    """The trial of the pipeline reads the archive, the hold queue and the relay ledger
    (the duplicate rule, the thread, the route plan) on a plain connection."""
    env = _routed_node(tmp_path)
    reply = tmp_path / "reply.eml"
    reply.write_bytes(b"From: a@example.net\r\nSubject: Re: x\r\nIn-Reply-To: <p@x>\r\n\r\nhi\r\n")
    code, modules, out = run_listfed(env, ["routes", "test", str(reply), "--list", TEAM])
    assert code in (0, None), out
    assert "route out -> coc@lists.elsewhere.example: no (it has no match" in out
    assert "route bridge:b1 -> x@lists.other.example: relay (any = true)" in out
    assert HEAVY & modules == set()
    assert "Traceback" not in out


def test_the_common_writes_load_no_sqlalchemy(tmp_path: Path) -> None:
    config = tmp_path / "listfed.toml"
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init", "--domain", DOMAIN]).exit_code == 0
    env = {**os.environ, "LISTFED_CONFIG": str(config)}
    other = f"other@{DOMAIN}"
    steps: list[tuple[list[str], int]] = [
        (["lists", "create", other, "--owner", "Olga <olga@example.org>"], 0),
        (["lists", "set", other, "description", "Other things"], 0),
        (["members", "add", other, "ann@example.net", "--welcome"], 0),
        (["members", "add", other, "ann@example.net", "not an address"], 1),
        (["members", "set", other, "ann@example.net", "delivery", "digest"], 0),
        (["digests", "send"], 0),
        (["members", "set", other, "ann@example.net", "delivery", "regular"], 0),
        (["members", "set", other, "ann@example.net", "colour", "red"], 2),
        (["members", "remove", other, "ann@example.net"], 0),
        (["members", "remove", other, "nobody@example.net"], 1),
        (["members", "forget", "olga@example.org"], 0),
        (["mta", "postfix"], 0),
        (["queue", "retry"], 0),
        (["queue", "retry", "q99"], 1),
    ]
    for args, status in steps:
        code, modules, out = run_listfed(env, args)
        assert (code or 0) == status, (args, out)
        assert HEAVY & modules == set(), args
        assert "Traceback" not in out
    hold_posts(tmp_path / "var" / "listfed.db", 1, 4)
    for args, status in (
        (["held", "show", "1"], 0),
        (["held", "approve", "1", "--always"], 0),
        (["held", "approve", "1"], 1),
        (["held", "reject", "2", "--reason", "off topic"], 0),
        (["held", "discard", "3"], 0),
        (["lists", "delete", other, "--yes"], 0),
    ):
        code, modules, out = run_listfed(env, args)
        assert (code or 0) == status, (args, out)
        assert HEAVY & modules == set(), args
        assert "Traceback" not in out
    _code, _modules, out = run_listfed(env, ["lists", "show", other])
    assert f"no list {other}" in out


def test_init_loads_no_sqlalchemy(tmp_path: Path) -> None:
    """`init` makes the database on a plain connection (migrations.upgrade_file)."""
    env = {**os.environ, "LISTFED_CONFIG": str(tmp_path / "listfed.toml")}
    for _twice in (1, 2):
        code, modules, out = run_listfed(env, ["init", "--domain", DOMAIN])
        assert code in (0, None), out
        assert HEAVY & modules == set()
        assert "Traceback" not in out
    with sqlite3.connect(tmp_path / "var" / "listfed.db") as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_the_first_write_upgrades_an_older_database(tmp_path: Path) -> None:
    from listfed.db.engine import Database
    from listfed.migrations import MIGRATIONS, upgrade

    config = tmp_path / "listfed.toml"
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init", "--domain", DOMAIN]).exit_code == 0
    path = tmp_path / "var" / "listfed.db"
    path.unlink()
    db = Database(path)
    upgrade(db, MIGRATIONS[:1])  # a database of the first version, with a list
    with db.write() as s:
        s.connection().exec_driver_sql(
            "INSERT INTO mlist (local, domain, description, footer, policy, nonmember_action, "
            "archive, visibility, max_message_size, reply_to, dmarc, created) VALUES ('team', "
            f"'{DOMAIN}', '', '', 'members', 'hold', 1, 'public', 0, 'none', 'munge', 0)"
        )
    db.close()
    added = runner.invoke(app, ["--config", str(config), "members", "add", TEAM, "a@example.net"])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["--config", str(config), "members", "ls", TEAM, "--json"])
    assert json.loads(shown.stdout)[0]["address"] == "a@example.net"
    with sqlite3.connect(path) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_help_names_every_command_without_loading_them() -> None:
    out = CliRunner().invoke(build(set()), ["--help"]).stdout
    for word in EVERY:
        assert f"  {word} " in out


def test_a_single_commands_help_is_its_docstrings_first_line() -> None:
    for word, (module, text) in SINGLE.items():
        function = getattr(importlib.import_module(f"listfed.cli.{module}"), word)
        assert (inspect.getdoc(function) or "").splitlines()[0] == text


def test_lists_set_names_every_setting_it_takes() -> None:
    assert sorted(listview.SETTABLE) == sorted(lists.SETTINGS)


def _params(command: Any) -> list[tuple[Any, Any]]:
    found, stack = [], [command]
    while stack:
        current = stack.pop()
        found += [(current, p) for p in current.params if hasattr(p, "type_descriptor")]
        stack.extend(getattr(current, "commands", {}).values())
    return found


def _samples(annotation: Any, tmp_path: Path) -> list[Any]:
    if annotation is str:
        return ["x", "", "-- \\nleave", "ünïcode", 5]
    if annotation is int:
        return ["5", "05", "0", "1", "1000", "1001", "-3", "x", "²", " 7", 20, True]
    if annotation == list[str]:
        return [("a", "b"), (), ["x"], "solo", (1,)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [*annotation, *(m.value for m in annotation), "bogus", "MEMBER", ""]
    if annotation is Path:
        (tmp_path / "file.txt").write_text("x")
        return [str(tmp_path / "file.txt"), str(tmp_path / "missing"), str(tmp_path), "-"]
    return []


def _outcome(convert: Any, value: Any) -> tuple[str, Any]:
    try:
        result = convert(value)
    except BadParameter as refused:
        return "refused", refused.format_message()
    return type(result).__name__, result


def test_the_quick_conversion_is_typers_for_every_parameter(tmp_path: Path) -> None:
    from typer._param_types import coerce_cli_path

    command = typer.main.get_command(app)
    checked = 0
    for owner, param in _params(command):
        descriptor = param.type_descriptor
        multiple = bool(param.multiple or param.nargs == -1)
        quick = QuickValue(
            descriptor.annotation, descriptor.parameter_info, multiple, coerce_cli_path
        )
        ctx = Context(owner)
        for value in [None, *_samples(descriptor.annotation, tmp_path)]:
            param._runtime_param = None  # typer's own, built afresh
            theirs = _outcome(lambda v: param.get_runtime_param().coerce(v, param, ctx), value)
            ours = _outcome(lambda v: quick.coerce(v, param, ctx), value)
            assert ours == theirs, (owner.name, param.name, value)
            checked += 1
    assert checked > 200


def test_quicken_reaches_every_parameter_and_help_option() -> None:
    command = typer.main.get_command(app)
    quicken(command)
    for owner, param in _params(command):
        assert isinstance(param._runtime_param, QuickValue), (owner.name, param.name)
        helper = owner.get_help_option(Context(owner))
        assert isinstance(helper._runtime_param, QuickValue), owner.name


def _shell_search(env: dict[str, str]) -> set[str]:
    """`python -m listfed archive search anything` without site (so that no editable
    install's finder loads pathlib first), listfed from its source: what it imported."""
    source = str(Path(listfed.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-m", "listfed", "archive", "search", "x"],
        env={**env, "PYTHONPATH": source},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "no messages found\n"), done.stderr
    return {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_a_search_from_the_shell_loads_no_pathlib_nor_tomllib_for_a_config_it_knows(
    node: Path, tmp_path: Path
) -> None:
    """(cli/quicksearch.py: pathlib 3-4 ms, tomllib 2-3 ms of the 50 a search may take.)"""
    config = node / "listfed.toml"
    env = {**os.environ, "LISTFED_CONFIG": str(config), "XDG_CACHE_HOME": str(tmp_path)}
    names = _shell_search(env)
    assert "listfed.cli.quicksearch" in names
    assert "tomllib" in names  # the first search parses it (kept if older than RACY)
    assert "pathlib" not in names
    _cache(config, tmp_path)
    names = _shell_search(env)
    assert {"tomllib", "pathlib", "typer", "dataclasses", "logging"} & names == set()


def test_a_search_from_the_shell_loads_neither_typing_nor_re(node: Path, tmp_path: Path) -> None:
    """(listfed/records.py: typing is 3 ms of the 50 a search may take; re, with enum and
    functools, 2-5 ms: it is compiled by the first date term, or text to be cleaned of
    escapes, only. The console script that pip writes imports re itself.)"""
    config = node / "listfed.toml"
    _cache(config, tmp_path)
    names = _shell_search(
        {**os.environ, "LISTFED_CONFIG": str(config), "XDG_CACHE_HOME": str(tmp_path)}
    )
    assert "listfed.cli.quicksearch" in names
    assert {"typing", "re", "heapq"} & names == set()


def _cache(config: Path, tmp_path: Path) -> None:
    """The config's data folder kept in the cache under `tmp_path`, as a search keeps it
    once the file is older than RACY (so that tomllib is not loaded)."""
    key = configcache.key_of(config.stat())
    settled = max(key[3], key[4]) + 10 * configcache.RACY
    assert configcache.store(str(tmp_path / "listfed"), str(config), key, "var", settled)
