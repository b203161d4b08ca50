"""`listfed doctor` as an admin uses it: records to paste into a zone, checks that point
at what is missing, and a DKIM record that really verifies what the node signs."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from typer.testing import CliRunner

from listfed.archive import opendb
from listfed.cli.app import app
from listfed.delivery.dkim import MailSigner, load_key
from tests.dnsstub import StubDns
from tests.test_archive_ranked import feed_all, started
from tests.test_dkim import MESSAGE, rsa

DOMAIN = "lists.example.org"
SECOND = "news.example.org"


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    return rsa(tmp_path_factory.mktemp("doctor"), "dkim.pem", bits=2048)


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTFED_CONFIG", raising=False)
    args = ["init", "--name", "node.example.org", "--domain", DOMAIN, "--domain", SECOND]
    assert CliRunner().invoke(app, args).exit_code == 0
    return tmp_path


def with_key(node_dir: Path, pem: str, *extra: str) -> None:
    (node_dir / "dkim.pem").write_text(pem)
    lines = ["", "[dkim]", 'private_key = "file:dkim.pem"', 'selector = "s2026"', *extra]
    with (node_dir / "listfed.toml").open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def doctor(*args: str, code: int = 0, online: bool = False) -> str:
    """`listfed doctor` (with --offline unless `online`: the node's [dns] decides)."""
    result = CliRunner().invoke(app, ["doctor", *args, *([] if online else ["--offline"])])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def txt(out: str, name: str) -> str:
    """The value of the zone line for `name`, its quoted strings joined as DNS does."""
    [line] = [line for line in out.splitlines() if line.startswith(f"{name} IN TXT ")]
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    assert all(len(s) <= 255 for s in strings)
    return "".join(strings)


def test_the_printed_dkim_record_verifies_what_the_node_signs(node_dir: Path, pem: str) -> None:
    with_key(node_dir, pem)
    out = doctor()
    name = f"s2026._domainkey.{DOMAIN}."
    record = txt(out, name)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    assert len(record) > 255  # a 2048-bit key needs two strings in one record
    # p= is the public half of the configured key, as openssl itself writes it
    public = subprocess.run(
        ["openssl", "pkey", "-pubout", "-outform", "DER", "-in", "dkim.pem"],
        capture_output=True,
        check=True,
    ).stdout
    assert base64.b64decode(record.split("p=")[1]) == public
    signer = MailSigner("s2026", load_key(pem), (DOMAIN,), "node.example.org")
    signed = signer.sign(MESSAGE, f"team-bounces@{DOMAIN}")
    zone = {name.encode(): record.encode()}
    assert dkim.verify(signed, dnsfunc=lambda n, timeout=5: zone.get(n))
    assert "ok: the DKIM key is usable (RSA, 2048 bits)" in out


def test_records_for_every_domain_dkim_only_where_signing(node_dir: Path, pem: str) -> None:
    with_key(node_dir, pem, f'domains = ["{SECOND}"]')
    out = doctor()
    assert f"s2026._domainkey.{SECOND}. IN TXT" in out
    assert f"._domainkey.{DOMAIN}." not in out
    for domain in (DOMAIN, SECOND):
        assert txt(out, f"{domain}.") == "v=spf1 a mx ~all"
        assert txt(out, f"_dmarc.{domain}.") == f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}"
        assert f"; MX: {domain}'s MX must point at the host where listfed" in out
    assert "smarthost's IPs" in out


def test_without_a_key_the_advice_works_as_printed(node_dir: Path) -> None:
    out = doctor()
    assert "_domainkey" not in out
    assert "DKIM signing is off" in out
    [command] = re.findall(r"`(openssl [^`]+)`", out)
    [setting] = re.findall(r'\[dkim\] private_key = "file:dkim.pem"', out)
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    with (node_dir / "listfed.toml").open("a") as fh:
        fh.write("\n[dkim]\n" + setting.removeprefix("[dkim] ") + "\n")
    assert txt(doctor(), f"listfed._domainkey.{DOMAIN}.").startswith("v=DKIM1; k=rsa; p=")


def test_json_shape(node_dir: Path, pem: str) -> None:
    with_key(node_dir, pem)
    data = json.loads(doctor("--json"))
    assert {"records", "checks"} <= set(data)
    purposes = [(r["domain"], r["purpose"]) for r in data["records"]]
    assert purposes == [(d, p) for d in (DOMAIN, SECOND) for p in ("dkim", "spf", "dmarc")]
    for record in data["records"]:
        assert {"domain", "name", "type", "value", "purpose"} <= set(record)
        assert record["type"] == "TXT" and record["name"].endswith(f"{record['domain']}.")
    assert data["checks"] and all(c["ok"] is True for c in data["checks"])
    assert all(isinstance(c["what"], str) for c in data["checks"])


def test_a_missing_database_is_a_problem(node_dir: Path) -> None:
    (node_dir / "var" / "listfed.db").unlink()
    out = doctor(code=1)
    assert f"problem: no database at {node_dir / 'var' / 'listfed.db'}: run `listfed init`" in out
    assert "ok: the config loads" in out
    checks = json.loads(doctor("--json", code=1))["checks"]
    assert [c["ok"] for c in checks].count(False) == 1


def test_a_key_dkimpy_cannot_use_is_a_problem(node_dir: Path) -> None:
    with_key(node_dir, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    out = doctor(code=1)
    assert "problem: the DKIM key cannot be used: dkim.private_key: not an RSA private key" in out
    assert "_domainkey" not in out


def test_a_key_that_cannot_be_read_is_a_problem_not_dkim_off(node_dir: Path) -> None:
    with (node_dir / "listfed.toml").open("a") as fh:
        fh.write('\n[dkim]\nprivate_key = "env:LISTFED_TEST_NO_SUCH_KEY"\n')
    out = doctor(code=1)
    assert (
        "problem: the DKIM key cannot be read: dkim.private_key: "
        "environment variable LISTFED_TEST_NO_SUCH_KEY is not set"
    ) in out
    assert "DKIM signing is off" not in out and "_domainkey" not in out


def test_missing_secret_and_the_delivery_route(node_dir: Path) -> None:
    assert "ok: mail goes into the maildir" in doctor()
    (node_dir / "var" / "node.secret").unlink()
    config = node_dir / "listfed.toml"
    config.write_text(
        re.sub(r"smarthost = .*", 'smarthost = "smtp://127.0.0.1:2525"', config.read_text())
    )
    out = doctor(code=1)
    assert "problem: cannot read the node secret" in out
    assert "ok: mail goes out through the smarthost 127.0.0.1:2525" in out


# --- what DNS publishes (a stub server on 127.0.0.1 answers as the zone would) --------


@pytest.fixture
def zone(node_dir: Path) -> Iterator[StubDns]:
    with StubDns() as stub:
        with (node_dir / "listfed.toml").open("a") as fh:
            fh.write(f'\n[dns]\nnameservers = ["{stub.address}"]\ntimeout = "2s"\n')
        yield stub


def publish_all(zone: StubDns, out: str, domain: str) -> None:
    """Publish what `doctor --offline` printed for `domain`, as an admin would."""
    zone.mx(domain, f"mail.{domain}")
    for name in (f"{domain}.", f"_dmarc.{domain}.", f"s2026._domainkey.{domain}."):
        if f"{name} IN TXT " in out:
            zone.txt(name, txt(out, name))


def test_what_dns_publishes_is_checked_against_what_the_node_needs(
    node_dir: Path, pem: str, zone: StubDns
) -> None:
    with_key(node_dir, pem)
    advice = doctor()
    for domain in (DOMAIN, SECOND):
        publish_all(zone, advice, domain)
    out = doctor(online=True)
    for domain in (DOMAIN, SECOND):
        assert f"ok: {domain}: MX 10 mail.{domain}." in out
        assert f"ok: {domain}: SPF v=spf1" in out
        assert f"ok: {domain}: the DKIM key at s2026._domainkey.{domain}. is this node's" in out
        assert f"ok: {domain}: DMARC v=DMARC1" in out


def test_each_dns_problem_is_one_line_with_the_record_to_publish(
    node_dir: Path, pem: str, zone: StubDns
) -> None:
    with_key(node_dir, pem)
    advice = doctor()
    publish_all(zone, advice, DOMAIN)
    zone.txt(f"{DOMAIN}.", "v=spf1 include:_spf.example.net ~all")  # a second SPF record
    other = rsa(node_dir, "other.pem", bits=2048)  # DKIM: someone else's key
    wrong = doctor_record(other)
    zone.txt(f"s2026._domainkey.{SECOND}.", wrong)
    out = doctor(online=True, code=1)
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert f"problem: {DOMAIN}: 2 SPF records, which receivers treat as none" in out
    assert f"problem: {SECOND}: no MX record" in out
    assert f"problem: {SECOND}: no SPF record: publish {SECOND}. IN TXT " in out
    dkim_line = [p for p in problems if "DKIM key" in p]
    assert len(dkim_line) == 1 and "is not this node's" in dkim_line[0]
    assert txt(advice, f"s2026._domainkey.{SECOND}.")[:40] in dkim_line[0]
    assert f"problem: {SECOND}: no DMARC record: publish _dmarc.{SECOND}. IN TXT" in out
    assert len(problems) == 5


def test_a_dns_that_does_not_answer_is_said_once_per_domain(node_dir: Path, zone: StubDns) -> None:
    zone.timeout(f"{DOMAIN}.")
    out = doctor(online=True, code=1)
    assert f"problem: {DOMAIN}: DNS gave no answer" in out
    assert "check [dns] nameservers" in out


def doctor_record(pem: str) -> str:
    """The DKIM TXT value doctor would print for `pem`."""
    from listfed.delivery.dkim import public_key_record

    return public_key_record(load_key(pem))


def test_during_a_key_rotation_both_selectors_records_are_shown_and_checked(
    node_dir: Path, pem: str, zone: StubDns
) -> None:
    new = rsa(node_dir, "new.pem", bits=2048)
    (node_dir / "dkim.pem").write_text(pem)
    with (node_dir / "listfed.toml").open("a") as fh:
        fh.write(
            '\n[dkim]\nselector = ["s2027", "s2026"]\n'
            'private_key = ["file:new.pem", "file:dkim.pem"]\n'
        )
    advice = doctor()
    for domain in (DOMAIN, SECOND):
        assert txt(advice, f"s2027._domainkey.{domain}.") == doctor_record(new)
        assert txt(advice, f"s2026._domainkey.{domain}.") == doctor_record(pem)
    assert "; DKIM: the retiring key (selector s2026), which signs nothing now" in advice
    assert "ok: the retiring DKIM key (selector s2026) is usable (RSA, 2048 bits)" in advice
    data = json.loads(doctor("--json"))
    assert [r["purpose"] for r in data["records"] if r["domain"] == DOMAIN][:2] == [
        "dkim",
        "dkim-retiring",
    ]
    for domain in (DOMAIN, SECOND):  # the old key is published, the new one only here
        publish_all(zone, advice, domain)
    zone.txt(f"s2027._domainkey.{DOMAIN}.", txt(advice, f"s2027._domainkey.{DOMAIN}."))
    out = doctor(online=True, code=1)
    assert f"ok: {DOMAIN}: the DKIM key at s2027._domainkey.{DOMAIN}. is this node's" in out
    assert (
        f"ok: {DOMAIN}: the retiring DKIM key at s2026._domainkey.{DOMAIN}. is this node's" in out
    )
    assert f"problem: {SECOND}: no DKIM key at s2027._domainkey.{SECOND}.: publish" in out
    assert f"ok: {SECOND}: the retiring DKIM key at s2026._domainkey.{SECOND}." in out
    # the node signs with the first key only
    from listfed.config import load_config
    from listfed.mailauth import signer

    made = signer(load_config(node_dir / "listfed.toml"), lambda *a, **k: None)
    assert made is not None and made.selector == "s2027"
    assert made.record == doctor_record(new)


def test_a_retiring_key_that_cannot_be_used_is_a_problem(node_dir: Path, pem: str) -> None:
    (node_dir / "dkim.pem").write_text(pem)
    (node_dir / "old.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n"
    )
    with (node_dir / "listfed.toml").open("a") as fh:
        fh.write(
            '\n[dkim]\nselector = ["s2027", "s2026"]\n'
            'private_key = ["file:dkim.pem", "file:old.pem"]\n'
        )
    out = doctor(code=1)
    assert "problem: the retiring DKIM key (selector s2026) cannot be used" in out
    assert f"s2027._domainkey.{DOMAIN}. IN TXT" in out and "s2026._domainkey" not in out


def test_doctor_says_where_the_search_index_stands(node_dir: Path) -> None:
    database = node_dir / "var" / "listfed.db"
    assert "ok: no search index at" in doctor()  # `serve` makes it: nothing wrong
    conn = opendb.connect(database, 5.0)
    feed_all(started(database, conn), conn)
    assert "ok: the search index is" in doctor() and "holding every archived post" in doctor()
    conn.execute("INSERT INTO search_pending (post, at) VALUES (1, 0)")  # a post left behind
    conn.close()
    assert "lacks 1 posts (being made, or `listfed serve` is not running)" in doctor()
