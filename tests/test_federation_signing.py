"""The relay signature on its own, as SPEC §9 defines it: v=2 binds the target list,
From, Subject and Content-Type besides the Message-ID, traces and body; v=1 is only
checked, and only while the node accepts it. No node, database or network."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listfed.federation import signing
from listfed.mail.rawmail import RawMessage
from tests.federation import spec_v1, spec_v2

NODE = "lists.nyc.example"
SECRET = "s3cret-ключ-🔑"  # the key is the secret's UTF-8 bytes: not only ASCII here
T = 1_700_000_000
NOW = float(T + 60)
MAX_AGE = 7 * 86400.0
MID = "<plans-1@philly.example>"
TARGET = "coc@lists.philly.example"
FIELDS = ("Ann <ann@example.org>", "[national] Plans", "text/plain; charset=utf-8")
TRACES = ("philly.example actions@lists.philly.example", "nyc.example coc@lists.nyc.example")
BODY = b"Day of action on Saturday.\r\n\r\n-- \r\nAnn\r\n"


def covered(
    *,
    message_id: str = MID,
    traces: Sequence[str] = TRACES,
    body: bytes = BODY,
    target: str = TARGET,
    fields: Sequence[str] | None = FIELDS,
) -> signing.Covered:
    return signing.Covered(message_id, traces, body, target, fields)


def check(
    value: str,
    *,
    secrets: Mapping[str, str] | None = None,
    now: float = NOW,
    max_age: float = MAX_AGE,
    accept_v1: bool = True,
    **what: object,
) -> signing.Checked:
    return signing.verify(
        value,
        {NODE: SECRET} if secrets is None else secrets,
        covered(**what),  # type: ignore[arg-type]
        now,
        max_age,
        accept_v1=accept_v1,
    )


def good_value() -> str:
    return signing.sign(SECRET, NODE, T, covered())


S = spec_v2(SECRET, NODE, T, TARGET, FIELDS, MID, TRACES, BODY)
S1 = spec_v1(SECRET, NODE, T, MID, TRACES, BODY)
V1 = f"v=1; n={NODE}; t={T}; s={S1}"


def test_sign_matches_the_spec_computation_exactly() -> None:
    assert good_value() == f"v=2; n={NODE}; t={T}; s={S}"
    assert len(base64.b64decode(S, validate=True)) == 32
    assert S.endswith("=")  # 32 bytes: standard base64 keeps its padding


def test_sign_lower_cases_the_target_and_normalises_the_message_id() -> None:
    bare = spec_v2(SECRET, NODE, T, TARGET, FIELDS, "plans-1@philly.example", TRACES, BODY)
    for mid in (MID, "plans-1@philly.example", "  <plans-1@philly.example>\t"):
        for target in (TARGET, TARGET.upper()):
            value = signing.sign(SECRET, NODE, T, covered(message_id=mid, target=target))
            assert value.endswith(f"s={bare}")


def test_sign_without_traces_fields_or_body() -> None:
    bare = covered(traces=[], body=b"", fields=("", "", ""))
    expected = spec_v2(SECRET, NODE, T, TARGET, ("", "", ""), MID, [], b"")
    assert signing.sign(SECRET, NODE, T, bare) == f"v=2; n={NODE}; t={T}; s={expected}"
    assert check(signing.sign(SECRET, NODE, T, bare), traces=[], body=b"", fields=("", "", "")).ok


def test_a_message_with_a_repeated_field_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="repeated"):
        signing.sign(SECRET, NODE, T, covered(fields=None))


def test_verify_accepts_a_header_built_from_the_spec() -> None:
    result = check(f"v=2; n={NODE}; t={T}; s={S}")
    assert result.ok, result.reason
    assert result.node == NODE
    assert check(good_value()).ok


def test_verify_accepts_the_message_id_with_or_without_brackets() -> None:
    assert check(good_value(), message_id="plans-1@philly.example").ok
    assert check(good_value(), message_id=" <plans-1@philly.example> ").ok


@pytest.mark.parametrize(
    ("label", "changes", "reason_word"),
    [
        ("resent to another list", {"target": "other@lists.philly.example"}, "match"),
        ("no target", {"target": ""}, "match"),
        ("another From", {"fields": ("Mallory <m@evil.example>", *FIELDS[1:])}, "match"),
        ("another Subject", {"fields": (FIELDS[0], "Send money", FIELDS[2])}, "match"),
        ("another Content-Type", {"fields": (*FIELDS[:2], "text/html")}, "match"),
        ("From removed", {"fields": ("", *FIELDS[1:])}, "match"),
        ("fields swapped", {"fields": (FIELDS[1], FIELDS[0], FIELDS[2])}, "match"),
        ("a repeated field", {"fields": None}, "more than once"),
        ("tampered body", {"body": BODY.replace(b"Saturday", b"Sunday")}, "match"),
        ("body with a byte more", {"body": BODY + b"x"}, "match"),
        ("tampered trace", {"traces": (TRACES[0], "nyc.example coc@lists.atl.example")}, "match"),
        ("trace removed", {"traces": TRACES[:1]}, "match"),
        ("trace added", {"traces": (*TRACES, "atl.example coc@lists.atl.example")}, "match"),
        ("traces reordered", {"traces": TRACES[::-1]}, "match"),
        ("other Message-ID", {"message_id": "<plans-2@philly.example>"}, "match"),
        ("wrong secret", {"secrets": {NODE: SECRET + "x"}}, "match"),
        ("unknown node", {"secrets": {"lists.atl.example": SECRET}}, "peer"),
        ("no peers at all", {"secrets": {}}, "peer"),
        ("stale", {"now": T + MAX_AGE + 1}, "stale"),
        ("stale with a short max_age", {"now": T + 61, "max_age": 60.0}, "stale"),
        ("from the future", {"now": T - 301}, "future"),
        ("far in the future", {"now": T - 86400}, "future"),
    ],
)
def test_verify_refuses(label: str, changes: dict[str, object], reason_word: str) -> None:
    result = check(good_value(), **changes)  # type: ignore[arg-type]
    assert not result.ok, label
    assert reason_word in result.reason.lower(), (label, result.reason)


def test_verify_time_limits_are_inclusive_at_the_edges() -> None:
    assert check(good_value(), now=T + MAX_AGE).ok  # exactly max_age old
    assert check(good_value(), now=T - 300).ok  # exactly 5 minutes ahead
    assert not check(good_value(), now=T - 300.5).ok
    assert not check(good_value(), now=T + MAX_AGE + 0.5).ok


@pytest.mark.parametrize(
    ("value", "reason_word"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        (f"n={NODE}; t={T}; s={S}", "malformed"),  # no v
        (f"v=2; t={T}; s={S}", "malformed"),  # no n
        (f"v=2; n={NODE}; s={S}", "malformed"),  # no t
        (f"v=2; n={NODE}; t={T}", "malformed"),  # no s
        (f"v=2; v=2; n={NODE}; t={T}; s={S}", "malformed"),
        (f"v=2; n={NODE}; n={NODE}; t={T}; s={S}", "malformed"),
        (f"v=2; n={NODE}; t={T}; t={T}; s={S}", "malformed"),
        (f"v=2; n={NODE}; t={T}; s={S}; s={S}", "malformed"),
        (f"v=2 n={NODE} t={T} s={S}", "malformed"),  # no separators
        (f"v=3; n={NODE}; t={T}; s={S}", "version"),
        (f"v=; n={NODE}; t={T}; s={S}", "version"),
        (f"v=2; n={NODE}; t=soon; s={S}", "number"),
        (f"v=2; n={NODE}; t=-{T}; s={S}", "number"),
        (f"v=2; n={NODE}; t={T}.5; s={S}", "number"),
        (f"v=2; n={NODE}; t=; s={S}", "number"),
        (f"v=2; n={NODE}; t={T}; s=!!!not-base64!!!", "base64"),
        (f"v=2; n={NODE}; t={T}; s={S.rstrip('=')}", "base64"),  # padding missing
        (f"v=2; n={NODE}; t={T}; s={S[:-2]}-_", "base64"),  # url-safe alphabet
        (f"v=2; n={NODE}; t={T}; s=", "match"),
        (f"v=2; n={NODE}; t={T + 1}; s={S}", "match"),  # a valid MAC for another time
        (f"v=2; n={NODE}; t={T}; s={S1}", "match"),  # the v=1 MAC under v=2
        (f"v=1; n={NODE}; t={T}; s={S}", "match"),  # the v=2 MAC under v=1
    ],
)
def test_verify_refuses_malformed_values(value: str, reason_word: str) -> None:
    result = check(value)
    assert not result.ok, value
    assert result.reason
    assert reason_word in result.reason.lower(), (value, result.reason)


def test_verify_names_the_signing_node_in_its_answer() -> None:
    assert check(good_value(), secrets={}).node == NODE
    assert NODE in check(good_value(), secrets={}).reason
    assert check("garbage").node == ""


def test_verify_accepts_line_endings_changed_in_transit() -> None:
    lf = BODY.replace(b"\r\n", b"\n")
    assert check(good_value(), body=lf).ok  # signed CRLF, arrives LF
    signed_lf = signing.sign(SECRET, NODE, T, covered(body=lf))
    assert check(signed_lf, body=BODY).ok  # signed LF, arrives CRLF
    assert check(signed_lf, body=lf).ok
    assert not check(signed_lf, body=lf + b"\n").ok


def test_verify_accepts_folded_and_spaced_header_values() -> None:
    value = good_value()
    folded = value.replace("; ", ";\r\n\t")
    spaced = "  " + value.replace("; ", "  ;   ") + " ;  "
    unfolded = " ".join(folded.split())
    tight = value.replace("; ", ";")
    for variant in (folded, spaced, unfolded, tight):
        result = check(variant)
        assert result.ok, (variant, result.reason)
        assert result.node == NODE


def test_verify_ignores_unknown_extra_tags_and_order() -> None:
    assert check(f"s={S}; t={T}; x=whatever; n={NODE}; v=2").ok


def test_peer_lookup_is_case_insensitive() -> None:
    shouty = "Lists.NYC.Example"
    result = check(signing.sign(SECRET, shouty, T, covered()))  # keyed "lists.nyc.example"
    assert result.ok, result.reason
    assert check(good_value(), secrets={shouty: SECRET}).ok
    # the MAC covers the name as written in the header: changing its case breaks it
    assert not check(good_value().replace(NODE, shouty)).ok


# --- v=1, while the node accepts it --------------------------------------------------


def test_v1_is_checked_as_spec_section_9_gave_it_while_accepted() -> None:
    result = check(V1)
    assert result.ok, result.reason
    # v=1 never covered the target or the fields: that is why it is going
    assert check(V1, target="other@lists.philly.example", fields=None).ok
    assert not check(V1, body=BODY + b"x").ok


def test_v1_is_refused_when_the_node_no_longer_accepts_it() -> None:
    result = check(V1, accept_v1=False)
    assert not result.ok
    assert result.reason == signing.V1_REFUSED
    assert "accept_v1_signatures" in result.reason
    assert result.node == NODE
    assert check(good_value(), accept_v1=False).ok  # v=2 is not affected


# --- the fields as a message gives them -----------------------------------------------


def test_field_values_are_unfolded_and_stripped_bytes_as_they_are() -> None:
    head = RawMessage.parse(
        b"Subject:  =?utf-8?q?Pl=C3=A4ne?=\r\n\tfor   May  \r\n"
        b"from: Ann <ann@example.org>\r\n"
        b"X-Other: x\r\n\r\nbody\r\n"
    )
    assert signing.field_values(head) == (
        "Ann <ann@example.org>",
        "=?utf-8?q?Pl=C3=A4ne?=\tfor   May",
        "",
    )


@pytest.mark.parametrize("name", ["From", "Subject", "Content-Type", "content-type"])
def test_a_repeated_field_makes_a_message_unsignable(name: str) -> None:
    head = RawMessage.parse(
        f"From: a@b\r\nSubject: s\r\nContent-Type: text/plain\r\n{name}: again\r\n\r\n".encode()
    )
    assert signing.field_values(head) is None


MSGID = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True)


@given(
    body=st.binary(max_size=200),
    traces=st.lists(st.text(max_size=30), max_size=4),
    fields=st.tuples(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30)),
    mid=MSGID,
    brackets=st.booleans(),
    pad=st.sampled_from(["", " ", "\t", " \r\n "]),
)
def test_sign_and_verify_agree_with_the_spec_for_any_input(
    body: bytes,
    traces: list[str],
    fields: tuple[str, str, str],
    mid: str,
    brackets: bool,
    pad: str,
) -> None:
    written = f"{pad}<{mid}>{pad}" if brackets else f"{pad}{mid}{pad}"
    what = {"message_id": written, "traces": traces, "body": body, "fields": fields}
    value = signing.sign(SECRET, NODE, T, covered(**what))  # type: ignore[arg-type]
    expected = spec_v2(SECRET, NODE, T, TARGET, fields, mid, traces, body)
    assert value == f"v=2; n={NODE}; t={T}; s={expected}"
    assert check(value, **what).ok
    assert check(value, **{**what, "message_id": f"<{mid}>"}).ok
