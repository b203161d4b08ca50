"""Tests for listfed.config: search order, defaults, paths, secrets and key paths."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from listfed.config import (
    Config,
    DeliveryConfig,
    NodeConfig,
    SmtpConfig,
    find_config,
    load_config,
    parse_config,
    resolve_secret,
)
from listfed.context import node_settings
from listfed.errors import ConfigError
from tests.test_dkim import rsa

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "listfed.example.toml"
SECTIONS = {
    *("node", "smtp", "delivery", "archive", "storage", "dns", "members", "dkim", "web"),
    *("peer", "route", "bridge"),
}

PEER = '[[peer]]\nname = "nyc"\nnode = "lists.nyc.example"\nsecret = "s3cret"\n'
ROUTE = '[[route]]\nname = "r"\nfrom = "a@localhost"\nto = ["b@y.example"]\n'
SMTP_BRIDGE = (
    '[[bridge]]\nname = "b"\nlist = "a@localhost"\nforeign = "f@y.example"\n'
    'address = "br@localhost"\n'
)
IMAP_BRIDGE = (
    '[[bridge]]\nname = "i"\nlist = "a@localhost"\nforeign = "f@y.example"\n'
    'imap = "imaps://imap.example:993/INBOX"\nusername = "me@y.example"\npassword = "pw"\n'
)


def parse(text: str, base_dir: Path = Path("/base"), env: dict[str, str] | None = None) -> Config:
    return parse_config(tomllib.loads(text), base_dir, env or {})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and the search order ---------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(None, {}, tmp_path, system=tmp_path / "etc" / "listfed.toml")
    assert config.path is None
    assert config.node == NodeConfig(
        name="localhost", domains=("localhost",), data_dir=tmp_path / "var"
    )
    assert config.smtp == SmtpConfig()
    assert config.delivery.maildir == tmp_path / "var" / "outbox"
    assert (config.delivery.smtp_host, config.delivery.smtp_port) == (None, None)
    assert config.delivery.retry == (60, 300, 1800, 7200, 21600, 86400)
    assert config.delivery.verp == "never"
    assert config.archive.enabled is True
    assert config.storage.busy_timeout == 5.0
    assert config.dns.nameservers == ()
    assert (config.peers, config.routes, config.bridges) == ((), (), ())


def test_find_config_search_order(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    system = tmp_path / "etc" / "listfed.toml"
    assert find_config(None, {}, cwd, system=system) is None
    write(system, "")
    assert find_config(None, {}, cwd, system=system) == system
    local = write(cwd / "listfed.toml", "")
    assert find_config(None, {}, cwd, system=system) == local
    from_env = write(tmp_path / "env.toml", "")
    assert find_config(None, {"LISTFED_CONFIG": str(from_env)}, cwd, system=system) == from_env
    explicit = write(tmp_path / "explicit.toml", "")
    env = {"LISTFED_CONFIG": str(from_env)}
    assert find_config(explicit, env, cwd, system=system) == explicit


def test_find_config_relative_paths_use_cwd(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", "")
    assert find_config(Path("a.toml"), {}, tmp_path) == tmp_path / "a.toml"
    assert find_config(None, {"LISTFED_CONFIG": "a.toml"}, tmp_path) == tmp_path / "a.toml"


def test_find_config_explicit_or_env_must_exist(tmp_path: Path) -> None:
    write(tmp_path / "listfed.toml", "")
    with pytest.raises(ConfigError, match=re.escape("missing.toml")):
        find_config(tmp_path / "missing.toml", {}, tmp_path)
    with pytest.raises(ConfigError, match=re.escape("$LISTFED_CONFIG")):
        find_config(None, {"LISTFED_CONFIG": "gone.toml"}, tmp_path)


def test_load_config_reads_the_file_found(tmp_path: Path) -> None:
    system = write(tmp_path / "etc" / "listfed.toml", '[node]\nname = "lists.atl.example"\n')
    path = write(tmp_path / "listfed.toml", '[node]\nname = "lists.philly.example"\n')
    config = load_config(None, {}, tmp_path, system=system)
    assert config.path == path
    assert config.node.domains == ("lists.philly.example",)


def test_load_config_reads_the_system_file_last(tmp_path: Path) -> None:
    text = '[node]\nname = "lists.atl.example"\ndata_dir = "data"\n'
    system = write(tmp_path / "etc" / "listfed.toml", text)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    config = load_config(None, {}, cwd, system=system)
    assert config.path == system
    assert config.node.domains == ("lists.atl.example",)
    assert config.node.data_dir == tmp_path / "etc" / "data"


# --- paths ---------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_file_folder(tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    text = '[node]\ndata_dir = "data"\n[delivery]\nsmarthost = "maildir:out/box"\n'
    path = write(tmp_path / "conf" / "listfed.toml", text)
    config = load_config(path, {}, cwd)
    assert config.node.data_dir == tmp_path / "conf" / "data"
    assert config.delivery.maildir == tmp_path / "conf" / "out" / "box"


def test_absolute_paths_stay(tmp_path: Path) -> None:
    config = parse(f'[node]\ndata_dir = "{tmp_path}"\n[delivery]\nsmarthost = "maildir:/mail"\n')
    assert config.node.data_dir == tmp_path
    assert config.delivery.maildir == Path("/mail")


# --- secrets -------------------------------------------------------------------------


def test_env_and_file_secrets(tmp_path: Path) -> None:
    write(tmp_path / "keys" / "nyc", "from-file\n")
    text = (
        PEER.replace('"s3cret"', '"file:keys/nyc"')
        + PEER.replace('"nyc"', '"atl"')
        .replace("nyc.example", "atl.example")
        .replace('"s3cret"', '"env:ATL_KEY"')
        + IMAP_BRIDGE.replace('"pw"', '"env:IMAP_PW"')
    )
    config = parse(text, tmp_path, {"ATL_KEY": "from-env", "IMAP_PW": "hunter2"})
    assert [p.secret for p in config.peers] == ["from-file", "from-env"]
    assert config.bridges[0].password == "hunter2"


def test_literal_secret() -> None:
    assert resolve_secret("plain", "peer[0].secret", {}, Path("/")) == "plain"
    assert parse(PEER).peers[0].secret == "s3cret"


def test_unset_env_secret_names_key_and_variable() -> None:
    with pytest.raises(ConfigError, match="NYC_KEY") as info:
        parse(PEER.replace('"s3cret"', '"env:NYC_KEY"'))
    assert info.value.key == "peer[0].secret"


def test_unreadable_file_secret_names_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope") as info:
        parse(IMAP_BRIDGE.replace('"pw"', '"file:nope"'), tmp_path)
    assert info.value.key == "bridge[0].password"


def test_a_lenient_load_leaves_an_unreadable_secret_to_the_commands_that_need_it(
    tmp_path: Path,
) -> None:
    text = PEER.replace('"s3cret"', '"env:NYC_KEY"') + IMAP_BRIDGE.replace('"pw"', '"file:nope"')
    config = parse_config(tomllib.loads(text), tmp_path, {}, lenient_secrets=True)
    assert config.peers[0].secret == "" and config.bridges[0].password == ""
    assert config.need_secrets("dkim", "bridges") is config  # none missing there
    with pytest.raises(ConfigError, match="environment variable NYC_KEY is not set") as peer:
        config.need_secrets("peer")
    assert peer.value.key == "peer[0].secret"
    with pytest.raises(ConfigError, match="cannot read secret file") as bridge:
        config.need_secrets("bridge[0]")
    assert bridge.value.key == "bridge[0].password"
    assert config.need_secrets("bridge[1]", "bridge[0].name") is config
    with pytest.raises(ConfigError, match="NYC_KEY"):
        config.need_secrets()  # every one: `serve`
    with pytest.raises(ConfigError, match="needs a name"):  # a mistake, not a missing secret
        parse_config(tomllib.loads(PEER.replace('"s3cret"', '"env:"')), tmp_path, {},
                     lenient_secrets=True)  # fmt: skip


# --- good values ---------------------------------------------------------------------


def test_values_are_parsed() -> None:
    config = parse(
        '[node]\nname = "N1.example"\ndomains = ["Lists.Example", "other.example"]\n'
        'base_url = "https://lists.example/"\nsignature_max_age = "1h"\nhop_limit = 3\n'
        '[smtp]\nlisten = "[::1]:0"\nmax_message_size = "30 KB"\n'
        '[delivery]\nsmarthost = "smtp://mail.example:2525"\nretry = ["90s", 30]\n'
        'verp = "probes"\n[storage]\nbusy_timeout = "250s"\n'
        '[dns]\nnameservers = ["127.0.0.1:5300", "::1", "[::1]:53"]\n'
    )
    assert config.node.domains == ("lists.example", "other.example")
    assert config.node.base_url == "https://lists.example"
    assert (config.node.signature_max_age, config.node.hop_limit) == (3600.0, 3)
    assert (config.smtp.host, config.smtp.port, config.smtp.max_message_size) == ("::1", 0, 30720)
    assert (config.delivery.smtp_host, config.delivery.smtp_port) == ("mail.example", 2525)
    assert config.delivery.maildir is None
    assert config.delivery.retry == (90.0, 30.0)
    assert config.storage.busy_timeout == 250.0
    assert config.dns.nameservers == ("127.0.0.1:5300", "::1", "[::1]:53")


def test_v1_relay_signatures_are_accepted_until_the_node_says_otherwise() -> None:
    assert parse("").node.accept_v1_signatures is True
    assert parse("[node]\naccept_v1_signatures = false\n").node.accept_v1_signatures is False
    config = parse("[node]\naccept_v1_signatures = false\n")
    assert node_settings(config).accept_v1_signatures is False
    assert node_settings(parse("")).accept_v1_signatures is True
    assert node_settings(parse("")).sign_v1 is True
    assert node_settings(parse("[node]\nsign_v1 = false\n")).sign_v1 is False


def test_smtp_smarthost_port_defaults_to_25() -> None:
    assert parse('[delivery]\nsmarthost = "smtp://mail.example"\n').delivery.smtp_port == 25


def test_routes_and_bridges() -> None:
    text = (
        ROUTE
        + 'match = { subject_tag = "national", header = { List-Id = "^<a\\\\." }, any = false }\n'
        + SMTP_BRIDGE
        + IMAP_BRIDGE
    )
    config = parse(text)
    route = config.routes[0]
    assert (route.name, route.from_, route.to) == ("r", "a@localhost", ("b@y.example",))
    assert route.match == {"subject_tag": "national", "header": {"List-Id": "^<a\\."}, "any": False}
    assert (route.follow_thread, route.prefix, route.forward) == (False, None, True)
    assert (config.bridges[0].address, config.bridges[0].imap) == ("br@localhost", None)
    assert config.bridges[1].imap == "imaps://imap.example:993/INBOX"
    assert config.bridges[1].username == "me@y.example"


def test_a_bridges_subject_tag_and_what_our_copies_show() -> None:
    plain = parse(SMTP_BRIDGE).bridges[0]
    assert (plain.subject_tag, plain.shown_tag, plain.direct_wait) == ("[f]", "[f]", 600.0)
    given = parse(SMTP_BRIDGE + 'foreign_tag = "[ATL]"\nretag = "strip"\ndirect_wait = "0s"\n')
    assert (given.bridges[0].subject_tag, given.bridges[0].shown_tag) == ("[ATL]", "")
    assert given.bridges[0].direct_wait == 0.0
    assert parse(SMTP_BRIDGE + 'retag = "[atl]"\n').bridges[0].shown_tag == "[atl]"


def test_route_without_match() -> None:
    assert parse(ROUTE).routes[0].match == {}


def test_config_is_frozen() -> None:
    config = parse("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.node.name = "other"  # type: ignore[misc]
    match = parse(ROUTE + "match = { any = true }\n").routes[0].match
    with pytest.raises(TypeError):
        match["any"] = False  # type: ignore[index]


# --- bad values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[bogus]\n", "bogus"),
        ("node = 5\n", "node"),
        ("[node]\nbogus = 1\n", "node.bogus"),
        ('[node]\nname = "has space"\n', "node.name"),
        ('[node]\nname = "node_1"\n', "node.domains"),
        ('[node]\ndomains = ["ok.example", "bad domain"]\n', "node.domains[1]"),
        ("[node]\ndomains = []\n", "node.domains"),
        ('[node]\ndomains = "x.example"\n', "node.domains"),
        ("[node]\ndata_dir = 3\n", "node.data_dir"),
        ('[node]\nbase_url = "http://lists.example"\n', "node.base_url"),
        ("[node]\nhop_limit = 0\n", "node.hop_limit"),
        ("[node]\nhop_limit = true\n", "node.hop_limit"),
        ('[node]\nsignature_max_age = "7 days"\n', "node.signature_max_age"),
        ('[node]\nsignature_max_age = "0s"\n', "node.signature_max_age"),
        ('[node]\naccept_v1_signatures = "no"\n', "node.accept_v1_signatures"),
        ("[node]\naccept_v1_signatures = 0\n", "node.accept_v1_signatures"),
        ('[node]\nsign_v1 = "yes"\n', "node.sign_v1"),
        ('[smtp]\nlmtp = "yes"\n', "smtp.lmtp"),
        ('[smtp]\nlisten = "localhost"\n', "smtp.listen"),
        ('[smtp]\nlisten = "::1:8025"\n', "smtp.listen"),
        ('[smtp]\nlisten = "127.0.0.1:70000"\n', "smtp.listen"),
        ('[smtp]\nlisten = "[::g]:25"\n', "smtp.listen"),
        ("[smtp]\nlisten = 8025\n", "smtp.listen"),
        ('[smtp]\nmax_message_size = "10 TB"\n', "smtp.max_message_size"),
        ("[smtp]\nmax_message_size = 0\n", "smtp.max_message_size"),
        ("[smtp]\nmax_message_size = 1.5\n", "smtp.max_message_size"),
        ("[smtp]\nmax_connections = true\n", "smtp.max_connections"),
        ("[smtp]\nmax_recipients = 99\n", "smtp.max_recipients"),
        ('[smtp]\nmax_recipients = "1000"\n', "smtp.max_recipients"),
        ('[delivery]\nsmarthost = "lmtp://mail.example"\n', "delivery.smarthost"),
        ('[delivery]\nsmarthost = "maildir:"\n', "delivery.smarthost"),
        ('[delivery]\nsmarthost = "smtp://mail.example:99999"\n', "delivery.smarthost"),
        ('[delivery]\nsmarthost = "smtp://mail.example/path"\n', "delivery.smarthost"),
        ("[delivery]\nconnections = 1.5\n", "delivery.connections"),
        ("[delivery]\nrecipients_per_transaction = 0\n", "delivery.recipients_per_transaction"),
        ('[delivery]\nretry = ["1m", "5m", "soon"]\n', "delivery.retry[2]"),
        ('[delivery]\nretry = ["1m", true]\n', "delivery.retry[1]"),
        ("[delivery]\nretry = []\n", "delivery.retry"),
        ('[delivery]\nretry = "1m"\n', "delivery.retry"),
        ('[delivery]\nverp = "sometimes"\n', "delivery.verp"),
        ("[archive]\nenabled = 1\n", "archive.enabled"),
        ("[storage]\nbusy_timeout = -1\n", "storage.busy_timeout"),
        ("[storage]\nbusy_timeout = inf\n", "storage.busy_timeout"),
        ('[dns]\nnameservers = ["dns.example"]\n', "dns.nameservers[0]"),
        ('[dns]\nnameservers = ["127.0.0.1:0"]\n', "dns.nameservers[0]"),
        ('[peer]\nname = "x"\n', "peer"),
        ("peer = [1]\n", "peer[0]"),
        (PEER + PEER, "peer[1].name"),
        (PEER.replace('secret = "s3cret"\n', ""), "peer[0].secret"),
        (PEER.replace('"s3cret"', '""'), "peer[0].secret"),
        (PEER.replace('"s3cret"', '"env:"'), "peer[0].secret"),
        (PEER + "bogus = 1\n", "peer[0].bogus"),
        (PEER.replace('"lists.nyc.example"', '"a b"'), "peer[0].node"),
        (ROUTE.replace('name = "r"\n', ""), "route[0].name"),
        (ROUTE.replace('from = "a@localhost"\n', ""), "route[0].from"),
        (ROUTE.replace('to = ["b@y.example"]\n', ""), "route[0].to"),
        (ROUTE.replace('["b@y.example"]', "[]"), "route[0].to"),
        (ROUTE.replace('["b@y.example"]', "[1]"), "route[0].to[0]"),
        (ROUTE + ROUTE, "route[1].name"),
        (ROUTE + 'follow_thread = "true"\n', "route[0].follow_thread"),
        (ROUTE + "forward = 0\n", "route[0].forward"),
        (ROUTE + "prefix = 1\n", "route[0].prefix"),
        (ROUTE + 'match = "national"\n', "route[0].match"),
        (ROUTE + ROUTE.replace('"r"', '"s"') + "match = { sender = 5 }\n", "route[1].match.sender"),
        (ROUTE + 'match = { subject = "x" }\n', "route[0].match.subject"),
        (ROUTE + 'match = { subject_tag = "" }\n', "route[0].match.subject_tag"),
        (ROUTE + 'match = { any = "yes" }\n', "route[0].match.any"),
        (ROUTE + 'match = { header = "x" }\n', "route[0].match.header"),
        (ROUTE + "match = { header = {} }\n", "route[0].match.header"),
        (ROUTE + 'match = { header = { Subject = "(" } }\n', "route[0].match.header.Subject"),
        (ROUTE + "match = { header = { Subject = 1 } }\n", "route[0].match.header.Subject"),
        (ROUTE + 'match = { header = { "Bad Name" = "x" } }\n', "route[0].match.header.Bad Name"),
        (SMTP_BRIDGE.replace('address = "br@localhost"\n', ""), "bridge[0]"),
        (SMTP_BRIDGE + 'imap = "imap://imap.example/INBOX"\n', "bridge[0].imap"),
        (SMTP_BRIDGE + 'username = "me"\n', "bridge[0].username"),
        (SMTP_BRIDGE.replace('"a@localhost"', '"not-an-address"'), "bridge[0].list"),
        (SMTP_BRIDGE.replace('name = "b"\n', ""), "bridge[0].name"),
        (SMTP_BRIDGE + SMTP_BRIDGE, "bridge[1].name"),
        (IMAP_BRIDGE.replace('password = "pw"\n', ""), "bridge[0].password"),
        (IMAP_BRIDGE.replace("imaps://", "pop3://"), "bridge[0].imap"),
        (IMAP_BRIDGE.replace("imaps://imap.example:993", "imap://imap.example"), "bridge[0].imap"),
        (IMAP_BRIDGE + 'smtp = "smtps://smtp.example"\n', "bridge[0].smtp"),
        (IMAP_BRIDGE + 'post_as = "me"\n', "bridge[0].post_as"),
        (SMTP_BRIDGE + 'direct_wait = "soon"\n', "bridge[0].direct_wait"),
        (SMTP_BRIDGE + 'retag = " "\n', "bridge[0].retag"),
        (SMTP_BRIDGE + f'foreign_tag = "{"x" * 61}"\n', "bridge[0].foreign_tag"),
    ],
)
def test_bad_values_name_their_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_the_recipient_limit_is_1000_and_never_below_rfc_5321s_100() -> None:
    assert parse("").smtp.max_recipients == 1000
    assert parse("[smtp]\nmax_recipients = 100\n").smtp.max_recipients == 100
    with pytest.raises(ConfigError, match=r"at least 100.*RFC 5321.*got 10$"):
        parse("[smtp]\nmax_recipients = 10\n")


@pytest.mark.parametrize("host", ["127.0.0.1:1143", "[::1]:1143", "localhost"])
def test_plain_imap_is_for_a_server_on_this_machine_only(host: str) -> None:
    config = parse(IMAP_BRIDGE.replace("imaps://imap.example:993", f"imap://{host}"))
    assert config.bridges[0].imap == f"imap://{host}/INBOX"
    with pytest.raises(ConfigError, match="sends the password in clear"):
        parse(IMAP_BRIDGE.replace("imaps://imap.example:993", "imap://imap.example:143"))


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "listfed.toml", "[node]\nname = \n")
    with pytest.raises(ConfigError, match=r"listfed\.toml.*line 2"):
        load_config(path, {}, tmp_path)


def test_bad_value_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "listfed.toml", "[smtp]\nlmtp = 1\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))) as info:
        load_config(path, {}, tmp_path)
    assert info.value.key == "smtp.lmtp"


# --- the example config --------------------------------------------------------------


def test_example_parses_to_the_defaults() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) <= SECTIONS
    assert set(data) == SECTIONS - {"peer", "route", "bridge"}
    assert parse_config(data, Path("/base"), {}) == parse_config({}, Path("/base"), {})


def test_example_commented_entries_parse() -> None:
    """Lines "#key = ..." are examples; uncommented they must be a valid config."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line[1:] if re.match(r"#[^ #\n]", line) else line for line in lines)
    env = {"LISTFED_PEER_NYC": "k", "ATL_IMAP_PASSWORD": "pw"}
    config = parse_config(tomllib.loads(text), Path("/base"), env)
    assert [p.name for p in config.peers] == ["nyc"]
    route = config.routes[0]
    assert route.to == ("coc@lists.nyc.example", "coc@lists.atl.example")
    assert (route.match, route.follow_thread, route.prefix, route.forward) == (
        {"subject_tag": "national"},
        True,
        "[philly]",
        False,
    )
    assert [(b.name, b.address is None) for b in config.bridges] == [
        ("atl-smtp", False),
        ("atl-imap", True),
    ]
    assert config.bridges[1].password == "pw"


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = {f.name for cls in (NodeConfig, DeliveryConfig) for f in dataclasses.fields(cls)}
    keys -= {"maildir", "smtp_host", "smtp_port"}
    keys |= {"listen", "lmtp", "max_message_size", "max_connections", "max_recipients"}
    keys |= {"max_connections_per_client", "timeout", "data_timeout", "session_timeout"}
    keys |= {"min_data_rate"}
    keys |= {"metrics_from", "network_deadline", "search_rate", "web"}
    keys |= {"enabled", "busy_timeout"}
    keys |= {"nameservers", "secret", "from", "to", "match", "follow_thread", "prefix", "forward"}
    keys |= {"list", "foreign", "address", "imap", "username", "password", "post_as", "smtp"}
    keys |= {"direct_wait", "foreign_tag", "retag"}
    for key in keys:
        assert re.search(rf"^#?{key} = ", text, re.MULTILINE), key


def test_dkim_key_from_a_file(tmp_path: Path) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    (tmp_path / "dkim.pem").write_text(pem)
    data = {"dkim": {"private_key": "file:dkim.pem", "selector": "s2026"}}
    config = parse_config(data, tmp_path, {})
    assert config.dkim.enabled and config.dkim.private_key == pem.strip()
    assert (config.dkim.selector, config.dkim.arc, config.dkim.domains) == ("s2026", True, ())


@pytest.mark.parametrize(
    ("dkim", "key"),
    [
        ({"private_key": "file:missing.pem"}, "dkim.private_key"),
        ({"private_key": "not a key"}, "dkim.private_key"),
        ({"domains": ["elsewhere.example"]}, "dkim.domains[0]"),
        ({"selector": "two words"}, "dkim.selector"),
        ({"sign": True}, "dkim.sign"),
    ],
)
def test_bad_dkim_settings_name_their_key(
    tmp_path: Path, dkim: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"dkim": dkim}, tmp_path, {})
    assert caught.value.key == key


def test_a_peer_secret_may_be_a_list_during_a_rotation(tmp_path: Path) -> None:
    peer = {"name": "nyc", "node": "nyc.example", "secret": ["env:NEW_S", "old-secret"]}
    config = parse_config({"peer": [peer]}, tmp_path, {"NEW_S": "new-secret"}, None)
    [found] = config.peers
    assert found.secret == "new-secret" and found.secrets == ("new-secret", "old-secret")
    with pytest.raises(ConfigError, match=r"peer\[0\]\.secret"):
        parse_config({"peer": [{**peer, "secret": []}]}, tmp_path, {"NEW_S": "x"}, None)
    with pytest.raises(ConfigError, match=r"peer\[0\]\.secret\[0\]"):
        parse_config({"peer": [peer]}, tmp_path, {}, None)  # NEW_S is not set


def test_a_peer_trusted_by_dkim_needs_no_secret(tmp_path: Path) -> None:
    peer = {"name": "nyc", "node": "nyc.example", "trust": "dkim"}
    [found] = parse_config({"peer": [peer]}, tmp_path, {}, None).peers
    assert found.trust == "dkim" and found.secret == ""
    with pytest.raises(ConfigError, match=r"peer\[0\]\.trust.*'keys'"):
        parse_config({"peer": [{**peer, "trust": "keys"}]}, tmp_path, {}, None)
    with pytest.raises(ConfigError, match=r"peer\[0\]\.secret"):  # secret peers still need one
        parse_config({"peer": [{"name": "nyc", "node": "nyc.example"}]}, tmp_path, {}, None)
    with pytest.raises(ConfigError, match=r"peer\[0\]\.retiring"):  # not a key of the file
        parse_config({"peer": [{**peer, "retiring": ["x"]}]}, tmp_path, {}, None)


def test_a_peer_may_name_its_web_face_for_network_searches(tmp_path: Path) -> None:
    peer = {"name": "nyc", "node": "nyc.example", "trust": "dkim", "web": "https://nyc.example/"}
    [found] = parse_config({"peer": [peer]}, tmp_path, {}, None).peers
    assert found.web == "https://nyc.example"
    for bad in ("ftp://nyc.example", "https://u@nyc.example", "https://nyc.example/?q=1", ""):
        with pytest.raises(ConfigError, match=r"peer\[0\]\.web"):
            parse_config({"peer": [{**peer, "web": bad}]}, tmp_path, {}, None)
    web = parse_config({"web": {"network_deadline": "2s", "search_rate": 5}}, tmp_path, {}).web
    assert (web.network_deadline, web.search_rate) == (2.0, 5)
    with pytest.raises(ConfigError, match=r"web\.network_deadline"):
        parse_config({"web": {"network_deadline": "0s"}}, tmp_path, {})
    with pytest.raises(ConfigError, match=r"web\.search_rate"):
        parse_config({"web": {"search_rate": 0}}, tmp_path, {})


def test_dkim_keys_rotate_by_selector_the_first_signs(tmp_path: Path) -> None:
    new, old = rsa(tmp_path, "new.pem"), rsa(tmp_path, "old.pem")
    dkim = {"selector": ["s2", "s1"], "private_key": ["file:new.pem", "file:old.pem"]}
    found = parse_config({"dkim": dkim}, tmp_path, {}).dkim
    assert (found.selector, found.private_key) == ("s2", new.strip())
    assert found.retiring == (("s1", old.strip()),)
    assert found.keys == (("s2", new.strip()), ("s1", old.strip()))
    for bad in (
        {**dkim, "selector": "s2"},
        {**dkim, "selector": ["s2"]},
        {"selector": ["s2", "s1"], "private_key": "file:new.pem"},
        {"selector": [], "private_key": []},
    ):
        with pytest.raises(ConfigError, match=r"dkim\.private_key: .* give a list of each"):
            parse_config({"dkim": bad}, tmp_path, {})
    with pytest.raises(ConfigError, match=r"dkim\.private_key\[1\]"):
        parse_config({"dkim": {**dkim, "private_key": ["file:new.pem", "x"]}}, tmp_path, {})
    with pytest.raises(ConfigError, match=r"dkim\.selector\[1\]"):
        parse_config({"dkim": {**dkim, "selector": ["s2", "two words"]}}, tmp_path, {})
