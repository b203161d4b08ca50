"""DKIM signing and ARC sealing, checked the way a receiver would: dkimpy's verifiers
reading the published key from a (dict-backed) DNS."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.delivery import dkimsign
from listfed.delivery.authresults import authentication_results
from listfed.delivery.dkim import SIGNED, MailSigner, load_key, public_key_record
from listfed.errors import ConfigError

DOMAIN = "lists.example.org"
BOUNCES = f"team-bounces@{DOMAIN}"
NODE = "lists.example.org"  # our authserv-id
ORIGIN = "origin.example"  # another site that seals before us

MESSAGE = (
    b"From: Ann Example <ann@example.net>\r\n"
    b"To: team@lists.example.org\r\n"
    b"Subject: [team] Minutes\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <minutes@example.net>\r\n"
    b"List-Id: <team.lists.example.org>\r\n"
    b"List-Unsubscribe: <mailto:team-leave@lists.example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Here are the minutes.\r\n"
)

DnsFunc = Callable[..., bytes | None]


def openssl_key(directory: Path, name: str, *args: str) -> str:
    """A new key, written by `openssl COMMAND -out PATH OPTIONS...`."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test keys")
    path = directory / name
    command, *options = args
    subprocess.run(
        ["openssl", command, "-out", str(path), *options], check=True, capture_output=True
    )
    return path.read_text()


def rsa(directory: Path, name: str, bits: int = 1024) -> str:
    args = ("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}")
    return openssl_key(directory, name, *args)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    where = tmp_path_factory.mktemp("keys")
    return {"ours": load_key(rsa(where, "ours.pem")), "origin": load_key(rsa(where, "o.pem"))}


@pytest.fixture(scope="module")
def dns(keys: dict[str, bytes]) -> DnsFunc:
    records = {
        f"sel._domainkey.{DOMAIN}.": public_key_record(keys["ours"]),
        f"sel._domainkey.{ORIGIN}.": public_key_record(keys["origin"]),
    }

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        found = records.get(name.decode().lower())
        return found.encode() if found else None

    return lookup


@pytest.fixture(scope="module")
def signer(keys: dict[str, bytes], dns: DnsFunc) -> MailSigner:
    return MailSigner("sel", keys["ours"], (DOMAIN, "other.example.org"), NODE, dnsfunc=dns)


def signed_by(data: bytes, dns: DnsFunc) -> str | None:
    """The d= of the top DKIM signature if it verifies, else None."""
    verifier = dkim.DKIM(data)
    return verifier.domain.decode() if verifier.verify(dnsfunc=dns) else None


def first_field_tags(data: bytes) -> dict[bytes, bytes]:
    """The tags of the message's first header field (the one we added), unfolded."""
    first = re.match(rb"[^:]+:(.*?)\r\n(?![ \t])", data, re.DOTALL)
    assert first is not None
    return dkim.util.parse_tag_value(re.sub(rb"\r\n[ \t]", b" ", first.group(1)))


def crlf_only(data: bytes) -> bool:
    return b"\n" not in data.replace(b"\r\n", b"")


def arrived(data: bytes, dns: DnsFunc, **kw: str) -> bytes:
    """What our intake does: record the checks in an Authentication-Results field."""
    return (
        f"Authentication-Results: {authentication_results(data, NODE, dns, **kw)}\r\n".encode()
        + data
    )


HUGE = b"References: " + b"\r\n ".join(b"<ref%d@example.net>" % i for i in range(400)) + b"\r\n"
VARIANTS = {
    "plain": MESSAGE,
    "8-bit body": MESSAGE.replace(b"minutes.", "Protokoll für Köln — ok.".encode()),
    "8-bit subject": MESSAGE.replace(b"Minutes", "Grüße".encode()),
    "folded headers": MESSAGE.replace(b"To: team", b"To:\r\n\tteam").replace(
        b"[team] ", b"[team]\r\n "
    ),
    "LF only": MESSAGE.replace(b"\r\n", b"\n"),
    "no Date": re.sub(rb"Date: .*\r\n", b"", MESSAGE),
    "huge headers": HUGE + MESSAGE.replace(b"Minutes", b"M" * 5000),
    "no final newline": MESSAGE.rstrip(b"\r\n"),
}


@pytest.mark.parametrize("data", VARIANTS.values(), ids=VARIANTS.keys())
def test_signed_mail_verifies_against_the_published_key(
    signer: MailSigner, dns: DnsFunc, data: bytes
) -> None:
    out = signer.sign(data, BOUNCES)
    assert out.startswith(b"DKIM-Signature: ")
    tags = first_field_tags(out)
    assert (tags[b"a"], tags[b"c"], tags[b"d"]) == (
        b"rsa-sha256",
        b"relaxed/relaxed",
        DOMAIN.encode(),
    )
    assert signed_by(out, dns) == DOMAIN
    assert crlf_only(out)


def test_the_listed_headers_are_signed_and_from_twice(signer: MailSigner, dns: DnsFunc) -> None:
    out = signer.sign(MESSAGE, BOUNCES)
    signed = [h.strip() for h in first_field_tags(out)[b"h"].split(b":")]
    assert signed.count(b"from") == 2
    assert {
        b"subject",
        b"date",
        b"message-id",
        b"list-id",
        b"list-unsubscribe",
        b"content-type",
    } <= set(signed)


@pytest.mark.parametrize("where", ["top", "bottom"])
def test_a_second_from_added_after_signing_breaks_the_signature(
    signer: MailSigner, dns: DnsFunc, where: str
) -> None:
    out = signer.sign(MESSAGE, BOUNCES)
    forged = b"From: boss@example.net\r\n"
    head, body = out.split(b"\r\n\r\n", 1)
    tampered = forged + out if where == "top" else head + b"\r\n" + forged + b"\r\n" + body
    assert signed_by(out, dns) == DOMAIN
    assert signed_by(tampered, dns) is None


def test_a_changed_body_no_longer_verifies(signer: MailSigner, dns: DnsFunc) -> None:
    out = signer.sign(MESSAGE, BOUNCES)
    with pytest.raises(dkim.ValidationError, match="body hash"):
        dkim.DKIM(out.replace(b"minutes", b"millions")).verify(dnsfunc=dns)


def test_signing_domain_is_the_envelope_then_the_from(signer: MailSigner, dns: DnsFunc) -> None:
    assert signer.domain_for("team-bounces@Lists.Example.ORG", MESSAGE) == DOMAIN
    from_ours = MESSAGE.replace(b"ann@example.net", b"team@other.example.org")
    assert signer.domain_for("someone@elsewhere.example", from_ours) == "other.example.org"
    assert signed_by(signer.sign(from_ours, ""), dns) is None  # no key published there
    assert signer.sign(from_ours, "").startswith(b"DKIM-Signature:")
    # neither is ours: a signature that aligns with nothing would only be noise
    assert signer.domain_for("owner@elsewhere.example", MESSAGE) is None
    assert signer.sign(MESSAGE, "owner@elsewhere.example") == MESSAGE


def test_two_from_fields_give_no_from_domain(signer: MailSigner) -> None:
    twice = b"From: team@other.example.org\r\n" + MESSAGE
    assert signer.domain_for("", twice) is None


def test_unsignable_mail_goes_out_unchanged_and_is_logged(
    signer: MailSigner, caplog: pytest.LogCaptureFixture
) -> None:
    junk = b"Message-ID: <junk@example.net>\r\nthis line has no colon\r\n\r\nbody\r\n"
    with caplog.at_level(logging.WARNING, logger="listfed.delivery"):
        assert signer.sign(junk, BOUNCES) == junk
    assert "<junk@example.net>: sent without DKIM" in caplog.text


LINES = [b"From: a@b.example", b"Subject: x", b" folded", b"", b"\xff\xfe:", b"no colon", b"\r"]
LINES += [b"DKIM-Signature: v=1; d=x; b=", b"ARC-Seal: i=1; cv=none", b"Authentication-Results: x"]
JUNK = st.one_of(
    st.binary(max_size=200), st.lists(st.sampled_from(LINES), max_size=8).map(b"\r\n".join)
)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(data=JUNK)
def test_junk_never_raises(signer: MailSigner, dns: DnsFunc, data: bytes) -> None:
    out = signer.sign(data, BOUNCES, seal=True)
    assert out == data or (out.startswith(b"DKIM-Signature:") and crlf_only(out))
    assert authentication_results(data, NODE, dns).startswith(NODE + "; ")


def test_keys_in_pkcs1_pkcs8_and_crlf_pem_all_load(tmp_path: Path) -> None:
    pkcs1 = openssl_key(tmp_path, "k1.pem", "genrsa", "-traditional", "1024")
    assert pkcs1.startswith("-----BEGIN RSA PRIVATE KEY-----")
    pkcs8 = rsa(tmp_path, "k8.pem")
    assert pkcs8.startswith("-----BEGIN PRIVATE KEY-----")
    for pem in (pkcs1, pkcs8, pkcs8.replace("\n", "\r\n")):
        assert public_key_record(load_key(pem)).startswith("v=DKIM1; k=rsa; p=MIGfMA0G")


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"), "512 bits"),
        (("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"), "RSA"),
        (("genpkey", "-algorithm", "ED25519"), "RSA"),
        (("genpkey", "-algorithm", "RSA", "-aes256", "-pass", "pass:x"), "encrypted"),
    ],
    ids=["small", "ec", "ed25519", "encrypted"],
)
def test_unusable_keys_are_refused_at_start_up(
    tmp_path: Path, args: tuple[str, ...], why: str
) -> None:
    pem = openssl_key(tmp_path, "bad.pem", *args)
    with pytest.raises(ConfigError, match=why) as caught:
        load_key(pem)
    assert caught.value.key == "dkim.private_key"


def test_garbage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dkim\.private_key: not an RSA private key"):
        load_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")


def test_key_published_compares_dns_with_our_key(
    signer: MailSigner, keys: dict[str, bytes], dns: DnsFunc
) -> None:
    assert signer.key_published(DOMAIN) is True
    assert signer.key_published("other.example.org") is False
    mismatched = MailSigner("sel", keys["origin"], (DOMAIN,), NODE, dnsfunc=dns)
    assert mismatched.key_published(DOMAIN) is False
    assert MailSigner("sel", keys["ours"], (DOMAIN,), NODE).key_published(DOMAIN) is None


# --- ARC


def arc_sets(data: bytes) -> list[tuple[bytes, bytes]]:
    return re.findall(rb"^ARC-Seal: i=(\d+); cv=(\w+)", data, re.MULTILINE)


def test_a_post_is_sealed_with_what_the_node_saw(signer: MailSigner, dns: DnsFunc) -> None:
    out = signer.sign(
        arrived(MESSAGE, dns, dmarc="none header.from=example.net"), BOUNCES, seal=True
    )
    assert arc_sets(out) == [(b"1", b"none")]
    cv, results, _why = dkim.arc_verify(out, dnsfunc=dns)
    assert cv == b"pass"
    assert results[0]["aar-value"].startswith(f"i=1; {NODE};".encode())
    assert b"dmarc=none header.from=example.net" in results[0]["aar-value"]
    assert signed_by(out, dns) == DOMAIN
    assert crlf_only(out)


def test_a_chain_from_another_sealer_is_continued(
    signer: MailSigner, keys: dict[str, bytes], dns: DnsFunc
) -> None:
    origin = MailSigner("sel", keys["origin"], (ORIGIN,), f"mx.{ORIGIN}")
    hop1 = origin.sign(
        f"Authentication-Results: mx.{ORIGIN}; dkim=none\r\n".encode() + MESSAGE,
        f"x@{ORIGIN}",
        seal=True,
    )
    seen = authentication_results(hop1, NODE, dns)
    assert seen == f"{NODE}; dkim=pass header.d={ORIGIN} header.s=sel; arc=pass"
    # the list changes the post (prefix, footer), which breaks origin's DKIM but not ARC
    changed = (
        arrived(hop1, dns).replace(b"[team] Minutes", b"[team] [team] Minutes")
        + b"-- \r\nfooter\r\n"
    )
    out = signer.sign(changed, BOUNCES, seal=True)
    assert arc_sets(out) == [(b"2", b"pass"), (b"1", b"none")]
    cv, results, _why = dkim.arc_verify(out, dnsfunc=dns)
    assert (cv, [r["instance"] for r in results]) == (b"pass", [2, 1])
    assert signed_by(out, dns) == DOMAIN


def test_a_broken_chain_is_sealed_as_failed_without_raising(
    signer: MailSigner, keys: dict[str, bytes], dns: DnsFunc
) -> None:
    origin = MailSigner("sel", keys["origin"], (ORIGIN,), f"mx.{ORIGIN}")
    hop1 = origin.sign(
        f"Authentication-Results: mx.{ORIGIN}; dkim=none\r\n".encode() + MESSAGE,
        f"x@{ORIGIN}",
        seal=True,
    )
    tampered = hop1.replace(b"minutes", b"millions")
    assert "arc=fail" in authentication_results(tampered, NODE, dns)
    out = signer.sign(arrived(tampered, dns), BOUNCES, seal=True)
    assert arc_sets(out) == [(b"2", b"fail"), (b"1", b"none")]
    assert dkim.arc_verify(out, dnsfunc=dns)[0] != b"pass"
    assert signed_by(out, dns) == DOMAIN


def test_without_our_authentication_results_only_dkim_is_added(
    signer: MailSigner, dns: DnsFunc, caplog: pytest.LogCaptureFixture
) -> None:
    theirs = b"Authentication-Results: mx.elsewhere.example; dkim=pass\r\n" + MESSAGE
    with caplog.at_level(logging.INFO, logger="listfed.delivery"):
        for data in (MESSAGE, theirs):
            out = signer.sign(data, BOUNCES, seal=True)
            assert not arc_sets(out) and b"ARC-" not in out
            assert signed_by(out, dns) == DOMAIN
    assert "<minutes@example.net>: not ARC-sealed" in caplog.text


def test_a_forged_arc_pass_on_a_first_hop_costs_only_the_seal(
    signer: MailSigner, dns: DnsFunc
) -> None:
    forged = f"Authentication-Results: {NODE}; dkim=none; arc=pass\r\n".encode() + MESSAGE
    out = signer.sign(forged, BOUNCES, seal=True)  # dkimpy raises: i=1 must have cv=none
    assert not arc_sets(out)
    assert signed_by(out, dns) == DOMAIN


def test_arc_off_means_no_seal(keys: dict[str, bytes], dns: DnsFunc) -> None:
    plain = MailSigner("sel", keys["ours"], (DOMAIN,), NODE, arc=False)
    out = plain.sign(arrived(MESSAGE, dns), BOUNCES, seal=True)
    assert not arc_sets(out) and signed_by(out, dns) == DOMAIN


# --- Authentication-Results


def test_results_name_each_signature(signer: MailSigner, dns: DnsFunc) -> None:
    once = signer.sign(MESSAGE, BOUNCES)
    assert (
        authentication_results(once, NODE, dns)
        == f"{NODE}; dkim=pass header.d={DOMAIN} header.s=sel"
    )
    twice = signer.sign(once, "x@other.example.org")  # no key published for other.example.org
    assert authentication_results(twice, NODE, dns, "pass header.from=example.net") == (
        f"{NODE}; dkim=permerror header.d=other.example.org header.s=sel; "
        f"dkim=pass header.d={DOMAIN} header.s=sel; dmarc=pass header.from=example.net"
    )


def test_results_for_changed_unsigned_and_unreadable_mail(signer: MailSigner, dns: DnsFunc) -> None:
    signed = signer.sign(MESSAGE, BOUNCES)
    changed = signed.replace(b"minutes", b"millions")
    assert (
        authentication_results(changed, NODE, dns)
        == f"{NODE}; dkim=fail header.d={DOMAIN} header.s=sel"
    )
    assert authentication_results(MESSAGE, NODE, dns) == f"{NODE}; dkim=none"
    no_b = (
        re.sub(rb"b=[\w+/=\s]+$", b"", signed.split(b"\r\nFrom:")[0])
        + b"\r\nFrom:"
        + signed.split(b"\r\nFrom:", 1)[1]
    )
    assert authentication_results(no_b, NODE, dns) == f"{NODE}; dkim=permerror"
    assert (
        authentication_results(b"\tjunk\r\nDKIM-Signature: x\r\n", NODE, dns)
        == f"{NODE}; dkim=permerror"
    )


def test_results_when_dns_fails(signer: MailSigner) -> None:
    signed = signer.sign(MESSAGE, BOUNCES)

    def broken(name: bytes, timeout: float = 5) -> bytes | None:
        raise TimeoutError("no answer")

    assert authentication_results(signed, NODE, lambda *_a, **_k: None).startswith(
        f"{NODE}; dkim=permerror "
    )
    assert authentication_results(signed, NODE, broken).startswith(
        f"{NODE}; dkim=temperror header.d="
    )
    bad_key = authentication_results(signed, NODE, lambda *_a, **_k: b"v=DKIM1; p=AAAA")
    assert bad_key.startswith(f"{NODE}; dkim=permerror ")


def test_an_injected_domain_is_not_copied_into_our_results(
    signer: MailSigner, dns: DnsFunc
) -> None:
    signed = signer.sign(MESSAGE, BOUNCES)
    evil = signed.replace(b"s=sel;", b"s=sel\xff;x", 1)
    assert "header.s" not in authentication_results(evil, NODE, dns)


# What dkimsign.py's canonicalization meets: folding, runs and ends of white space,
# fields that repeat, a body with blank lines and spaces at its end, or none at all.
_NAMES = ["From", "To", "Subject", "Cc", "X-Other", "Reply-To", "Subject", "List-Id"]
_VALUES = st.lists(
    st.sampled_from([b"a", b"b  c", b"\t d ", b" ", b"x@y.example", b"=?utf-8?q?caf=C3=A9?="]),
    min_size=1,
    max_size=4,
)
_FIELDS = st.lists(
    st.tuples(st.sampled_from(_NAMES), _VALUES, st.booleans()), min_size=0, max_size=6
)
_BODY_LINES = st.sampled_from([b"", b" ", b"text", b"two  spaces \t", b"\tlead", b"end "])


@settings(max_examples=80, derandomize=True, deadline=None)
@given(fields=_FIELDS, body=st.lists(_BODY_LINES, max_size=8), sep=st.booleans())
def test_every_signature_verifies_with_dkimpy(
    signer: MailSigner,
    dns: DnsFunc,
    fields: list[tuple[str, list[bytes], bool]],
    body: list[bytes],
    sep: bool,
) -> None:
    head = b"From: Ann <ann@lists.example.org>\r\n"
    for name, parts, fold in fields:
        joiner = b"\r\n " if fold else b" "
        head += name.encode() + b":" + joiner.join(parts) + b"\r\n"
    message = head + b"\r\n" + b"\r\n".join(body) + (b"\r\n" if sep else b"")
    out = signer.sign(message, BOUNCES)
    sent = message if message.endswith(b"\r\n") else message + b"\r\n"  # as SMTP sends it
    assert out.startswith(b"DKIM-Signature: ") and out.endswith(sent)
    assert dkim.verify(out, dnsfunc=dns), out
    # and a change to a signed field or the body breaks it
    assert not dkim.verify(out.replace(b"From: Ann", b"From: Bob", 1), dnsfunc=dns)
    assert not dkim.verify(out + b"PS\r\n", dnsfunc=dns)


def test_the_signature_time_is_the_nodes_clock(keys: dict[str, bytes], dns: DnsFunc) -> None:
    signer = MailSigner("sel", keys["ours"], (DOMAIN,), NODE, arc=False, clock=lambda: 1e9)
    out = signer.sign(MESSAGE, BOUNCES)
    assert b" t=1000000000;" in out.split(b"\r\n\r\n")[0]
    assert dkim.verify(out, dnsfunc=dns)


def test_copies_signed_each_with_their_own_fields_verify_and_cannot_be_swapped(
    signer: MailSigner, dns: DnsFunc
) -> None:
    above = [
        f"List-Unsubscribe: <https://x.example/u/{n}>\r\nList-Unsubscribe-Post: "
        "List-Unsubscribe=One-Click\r\n".encode()
        for n in ("a1", "b2")
    ]
    first, second = signer.sign_each(MESSAGE, BOUNCES, above)
    for copy, fields in ((first, above[0]), (second, above[1])):
        assert dkim.verify(copy, dnsfunc=dns), copy
        head = copy.split(b"\r\n\r\n", 1)[0]
        assert b"list-unsubscribe:list-unsubscribe-post" in head.replace(b"\r\n\t", b"")
        assert fields in copy
    # one member's URL on another's signed copy: the signature no longer holds
    assert not dkim.verify(first.replace(b"/u/a1", b"/u/b2"), dnsfunc=dns)
    # a sender whose domain we do not host: the copies go unsigned, fields on top
    [plain] = signer.sign_each(
        MESSAGE.replace(b"ann@example.net", b"x@y.example"), "x@y.example", above[:1]
    )
    assert plain.startswith(above[0]) and b"DKIM-Signature" not in plain


def test_arc_seals_made_through_openssl_are_dkimpys_bytes(
    keys: dict[str, bytes], dns: DnsFunc
) -> None:
    """arcrsa.py hands dkimpy's RSA step to OpenSSL; PKCS#1 v1.5 is deterministic, so
    the seal must be byte for byte what dkimpy's own arithmetic makes."""
    from listfed.delivery import arcrsa

    signer = MailSigner("sel", keys["ours"], (DOMAIN,), NODE, clock=lambda: 1.7e9)
    message = arrived(MESSAGE, dns, dmarc="none header.from=example.net")
    assert dkim.RSASSA_PKCS1_v1_5_sign is arcrsa.sign
    fast = signer.seal(message, BOUNCES)
    try:
        dkim.RSASSA_PKCS1_v1_5_sign = arcrsa._DKIMPY_SIGN  # dkimpy's own, for comparison
        slow = signer.seal(message, BOUNCES)
    finally:
        arcrsa.install()
    assert b"ARC-Seal:" in fast and fast == slow
    assert dkim.arc_verify(fast, dnsfunc=dns)[0] == b"pass"


@pytest.mark.parametrize(
    "above",
    [
        b"List-Unsubscribe: <https://x.example/u/a1>\r\nList-Unsubscribe-Post: One-Click\r\n",
        b"X-Unsigned: 1\r\nList-Unsubscribe-Post:  List-Unsubscribe=One-Click \r\n",
        b"List-Help: <mailto:h@x.example>\r\nList-Help: <mailto:i@x.example>\r\n",  # twice
        b"Subject: another\r\nFrom: Eve <eve@x.example>\r\n",  # names the message has too
        b"",
    ],
)
def test_a_prepared_message_signs_as_the_whole_copy_would_be_signed(
    keys: dict[str, bytes], above: bytes
) -> None:
    """Fields added above a prepared message: the same signature, byte for byte, as
    signing the copy from scratch (RSA PKCS#1 v1.5 is deterministic)."""
    key = dkimsign.load(keys["ours"])
    message = MESSAGE.replace(b"List-Unsubscribe: <mailto:team-leave@lists.example.org>\r\n", b"")
    prepared = dkimsign.Prepared(message, SIGNED).signature(above, key, DOMAIN, "s", 7)
    assert prepared == dkimsign.signature(above + message, key, DOMAIN, "s", SIGNED, 7)
