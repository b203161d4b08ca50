"""Federation pieces on their own: the signature as SPEC §9 defines it, trace headers,
route matching and the relayed copy, with no node, database or network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listfed.config.settings import PeerConfig, RouteConfig
from listfed.context import Context, NodeSettings
from listfed.federation import inbound, matching, signing
from listfed.federation.outbound import relayed_copy, signed
from listfed.listinfo import ListInfo
from listfed.mail import trace
from listfed.mail.message import ParsedMessage, parse
from listfed.mail.rawmail import RawMessage
from listfed.mail.trace import TraceEntry, parse_entry
from listfed.post import Decision, Post

# --- signing -----------------------------------------------------------------------

NODE = "lists.nyc.example"
SECRET = "s3cret-ключ-🔑"  # the key is the secret's UTF-8 bytes: not only ASCII here
T = 1_700_000_000
NOW = float(T + 60)
MAX_AGE = 7 * 86400.0
MID = "<plans-1@philly.example>"
TRACES = ("philly.example actions@lists.philly.example", "nyc.example coc@lists.nyc.example")
BODY = b"Day of action on Saturday.\r\n\r\n-- \r\nAnn\r\n"


def spec_signature(
    secret: str, node: str, when: int, message_id: str, traces: Sequence[str], body: bytes
) -> str:
    """The `s=` value, computed from the words of SPEC §9 alone."""
    mid = message_id.strip()
    if mid.startswith("<") and mid.endswith(">"):
        mid = mid[1:-1]
    lines = ["v=1", f"n={node}", f"t={when}", mid, *traces, hashlib.sha256(body).hexdigest()]
    mac = hmac.new(secret.encode("utf-8"), "\n".join(lines).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def check(
    value: str,
    *,
    secrets: Mapping[str, str] | None = None,
    message_id: str = MID,
    traces: Sequence[str] = TRACES,
    body: bytes = BODY,
    now: float = NOW,
    max_age: float = MAX_AGE,
) -> signing.Checked:
    return signing.verify(
        value,
        {NODE: SECRET} if secrets is None else secrets,
        message_id,
        traces,
        body,
        now,
        max_age,
    )


def good_value() -> str:
    return signing.sign(SECRET, NODE, T, MID, TRACES, BODY)


def test_sign_matches_the_spec_computation_exactly() -> None:
    expected = spec_signature(SECRET, NODE, T, MID, TRACES, BODY)
    assert good_value() == f"v=1; n={NODE}; t={T}; s={expected}"
    assert len(base64.b64decode(expected, validate=True)) == 32
    assert expected.endswith("=")  # 32 bytes: standard base64 keeps its padding


def test_sign_normalises_the_message_id_as_the_spec_says() -> None:
    bare = spec_signature(SECRET, NODE, T, "plans-1@philly.example", TRACES, BODY)
    for mid in (MID, "plans-1@philly.example", "  <plans-1@philly.example>\t"):
        assert signing.sign(SECRET, NODE, T, mid, TRACES, BODY).endswith(f"s={bare}")


def test_sign_without_traces_and_with_empty_body() -> None:
    expected = spec_signature(SECRET, NODE, T, MID, [], b"")
    assert signing.sign(SECRET, NODE, T, MID, [], b"") == f"v=1; n={NODE}; t={T}; s={expected}"
    assert check(signing.sign(SECRET, NODE, T, MID, [], b""), traces=[], body=b"").ok


def test_verify_accepts_a_header_built_from_the_spec() -> None:
    value = f"v=1; n={NODE}; t={T}; s={spec_signature(SECRET, NODE, T, MID, TRACES, BODY)}"
    result = check(value)
    assert result.ok, result.reason
    assert result.node == NODE
    assert check(good_value()).ok


def test_verify_accepts_the_message_id_with_or_without_brackets() -> None:
    assert check(good_value(), message_id="plans-1@philly.example").ok
    assert check(good_value(), message_id=" <plans-1@philly.example> ").ok


@pytest.mark.parametrize(
    ("label", "changes", "reason_word"),
    [
        ("tampered body", {"body": BODY.replace(b"Saturday", b"Sunday")}, "match"),
        ("body with a byte more", {"body": BODY + b"x"}, "match"),
        (
            "tampered trace value",
            {"traces": (TRACES[0], "nyc.example coc@lists.atl.example")},
            "match",
        ),
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


S = spec_signature(SECRET, NODE, T, MID, TRACES, BODY)
S2 = spec_signature(SECRET, NODE, 2, MID, TRACES, BODY)


@pytest.mark.parametrize(
    ("value", "reason_word"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        (f"n={NODE}; t={T}; s={S}", "malformed"),  # no v
        (f"v=1; t={T}; s={S}", "malformed"),  # no n
        (f"v=1; n={NODE}; s={S}", "malformed"),  # no t
        (f"v=1; n={NODE}; t={T}", "malformed"),  # no s
        (f"v=1; v=1; n={NODE}; t={T}; s={S}", "malformed"),
        (f"v=1; n={NODE}; n={NODE}; t={T}; s={S}", "malformed"),
        (f"v=1; n={NODE}; t={T}; t={T}; s={S}", "malformed"),
        (f"v=1; n={NODE}; t={T}; s={S}; s={S}", "malformed"),
        (f"v=1 n={NODE} t={T} s={S}", "malformed"),  # no separators
        (f"v=2; n={NODE}; t={T}; s={S}", "version"),
        (f"v=; n={NODE}; t={T}; s={S}", "version"),
        (f"v=1; n={NODE}; t=soon; s={S}", "number"),
        (f"v=1; n={NODE}; t=-{T}; s={S}", "number"),
        (f"v=1; n={NODE}; t={T}.5; s={S}", "number"),
        (f"v=1; n={NODE}; t=; s={S}", "number"),
        (f"v=1; n={NODE}; t={T}; s=!!!not-base64!!!", "base64"),
        (f"v=1; n={NODE}; t={T}; s={S.rstrip('=')}", "base64"),  # padding missing
        (f"v=1; n={NODE}; t={T}; s={S[:-2]}-_", "base64"),  # url-safe alphabet
        (f"v=1; n={NODE}; t={T}; s=", "match"),
        (f"v=1; n={NODE}; t={T}; s={S2}", "match"),  # a valid MAC for another time
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
    signed_lf = signing.sign(SECRET, NODE, T, MID, TRACES, lf)
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
    value = f"s={S}; t={T}; x=whatever; n={NODE}; v=1"
    assert check(value).ok


def test_peer_lookup_is_case_insensitive() -> None:
    shouty = "Lists.NYC.Example"
    value = signing.sign(SECRET, shouty, T, MID, TRACES, BODY)
    result = check(value)  # secrets are keyed "lists.nyc.example"
    assert result.ok, result.reason
    assert check(good_value(), secrets={shouty: SECRET}).ok
    # the MAC covers the name as written in the header: changing its case breaks it
    assert not check(good_value().replace(NODE, shouty)).ok


MSGID = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True)


@given(
    body=st.binary(max_size=200),
    traces=st.lists(st.text(max_size=30), max_size=4),
    mid=MSGID,
    brackets=st.booleans(),
    pad=st.sampled_from(["", " ", "\t", " \r\n "]),
)
def test_sign_and_verify_agree_with_the_spec_for_any_input(
    body: bytes, traces: list[str], mid: str, brackets: bool, pad: str
) -> None:
    written = f"{pad}<{mid}>{pad}" if brackets else f"{pad}{mid}{pad}"
    value = signing.sign(SECRET, NODE, T, written, traces, body)
    assert value == f"v=1; n={NODE}; t={T}; s={spec_signature(SECRET, NODE, T, mid, traces, body)}"
    assert check(value, message_id=written, traces=traces, body=body).ok
    assert check(value, message_id=f"<{mid}>", traces=traces, body=body).ok


# --- trace headers ----------------------------------------------------------------

TOKEN = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]*", fullmatch=True).filter(lambda s: len(s) < 40)
LOCAL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,20}", fullmatch=True)
DOMAIN = st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-z0-9-]{1,10}){0,3}", fullmatch=True)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
GAP = st.sampled_from([" ", "  ", "\t", " \t ", "\r\n ", "\r\n\t", "\n "])
EDGE = st.sampled_from(["", " ", "\t", "  \t", "\r\n "])


@given(node=TOKEN, address=ADDRESS, forward=st.booleans())
def test_trace_entry_round_trips(node: str, address: str, forward: bool) -> None:
    entry = TraceEntry(node, address, forward)
    value = entry.format()
    assert parse_entry(value) == entry
    assert value == (f"{node} {address}" if forward else f"{node} {address}; forward=no")
    assert parse_entry(trace.normalise(value)) == entry


@given(
    node=TOKEN,
    address=ADDRESS,
    forward=st.booleans(),
    lead=EDGE,
    gap=GAP,
    before=EDGE,
    after=EDGE,
    trail=EDGE,
)
def test_trace_entry_round_trips_with_extra_whitespace(
    node: str,
    address: str,
    forward: bool,
    lead: str,
    gap: str,
    before: str,
    after: str,
    trail: str,
) -> None:
    value = f"{lead}{node}{gap}{address}"
    if not forward:
        value += f"{before};{after}forward=no"
    value += trail
    assert parse_entry(value) == TraceEntry(node, address, forward)


@given(value=st.text())
def test_parse_entry_never_raises(value: str) -> None:
    entry = parse_entry(value)
    assert entry is None or isinstance(entry, TraceEntry)


@given(values=st.lists(st.text(), max_size=6).map(tuple), node=st.text(), address=st.text())
def test_trace_helpers_never_raise_on_garbage(
    values: tuple[str, ...], node: str, address: str
) -> None:
    assert isinstance(trace.names(values, node, address), bool)
    assert isinstance(trace.visited(values, address), bool)
    assert isinstance(trace.forward_allowed(values), bool)
    hop = trace.last_hop(values)
    assert hop is None or isinstance(hop, TraceEntry)
    if not values:
        assert hop is None


def test_trace_forward_no() -> None:
    entry = parse_entry("philly.example actions@lists.philly.example; forward=no")
    assert entry == TraceEntry("philly.example", "actions@lists.philly.example", False)
    assert parse_entry("philly.example actions@lists.philly.example;forward=NO") == entry
    plain = parse_entry("philly.example actions@lists.philly.example")
    assert plain is not None and plain.forward
    values = ("nyc.example coc@lists.nyc.example", entry.format())
    assert trace.forward_allowed(values) is False
    assert trace.forward_allowed(values[:1]) is True
    assert trace.forward_allowed(()) is True


def test_trace_rejects_values_that_are_not_entries() -> None:
    for value in ("", "   ", "philly.example", "philly.example actions", "@ x"):
        assert parse_entry(value) is None, value


def test_trace_names_is_case_insensitive() -> None:
    values = ("Philly.Example Actions@Lists.Philly.Example",)
    assert trace.names(values, "philly.example", "actions@lists.philly.example")
    assert trace.names(values, "PHILLY.EXAMPLE", "ACTIONS@LISTS.PHILLY.EXAMPLE")
    assert not trace.names(values, "nyc.example", "actions@lists.philly.example")
    assert not trace.names(values, "philly.example", "coc@lists.philly.example")
    assert trace.names(
        (values[0] + "; forward=no",), "philly.example", "actions@lists.philly.example"
    )


def test_trace_visited_looks_at_the_list_address() -> None:
    values = ("nyc.example coc@lists.nyc.example", "philly.example actions@lists.philly.example")
    assert trace.visited(values, "coc@lists.nyc.example")
    assert trace.visited(values, "COC@Lists.NYC.example")
    assert trace.visited(values, "actions@lists.philly.example")
    assert not trace.visited(values, "coc@lists.atl.example")
    assert not trace.visited(values, "nyc.example")  # a node name is not a list
    assert not trace.visited((), "coc@lists.nyc.example")


def test_trace_last_hop_is_the_newest_entry() -> None:
    values = ("nyc.example coc@lists.nyc.example", "philly.example actions@lists.philly.example")
    assert trace.last_hop(values) == TraceEntry("philly.example", "actions@lists.philly.example")
    assert trace.last_hop(()) is None


# --- matching ---------------------------------------------------------------------


def mail(
    subject: str | None = "Plans",
    sender: str = "Ann <ann@philly.example>",
    extra: bytes = b"",
) -> bytes:
    head = f"From: {sender}\r\nTo: actions@lists.philly.example\r\n".encode()
    if subject is not None:
        head += f"Subject: {subject}\r\n".encode()
    head += b"Message-ID: <m1@philly.example>\r\n" + extra
    return head + b"\r\nHello.\r\n"


def headers_of(raw: bytes) -> matching.Headers:
    msg = RawMessage.parse(raw)

    def values(name: str) -> list[str]:
        return msg.get_all_decoded(name)

    return values


def route(match: Mapping[str, object], **kw: object) -> RouteConfig:
    return RouteConfig(
        name="national",
        from_="actions@lists.philly.example",
        to=("coc@lists.nyc.example",),
        match=match,
        **kw,  # type: ignore[arg-type]
    )


def matches(
    match: Mapping[str, object], raw: bytes, prefixes: Sequence[str] = ("[actions]",)
) -> tuple[bool, str]:
    message: ParsedMessage = parse(raw)
    return matching.check(route(match), message, headers_of(raw), prefixes)


def test_strip_subject_removes_reply_markers_and_prefixes_in_chains() -> None:
    assert matching.strip_subject("Re: Fwd: [team] RE: [team] x", ["[team]"]) == "x"
    assert matching.strip_subject("[TEAM] Re:  [team]   Fw: x  y", ["[team]"]) == "x y"
    assert matching.strip_subject("AW: Sv: Re[2]: hello", []) == "hello"
    assert matching.strip_subject("Re: [other] x", ["[team]"]) == "[other] x"
    assert matching.strip_subject("Plain subject", ["[team]"]) == "Plain subject"
    assert matching.strip_subject("Re: Fwd: [team] x", ["[team]", "  "]) == "x"
    # a prefix or marker in the middle of the text is the text
    assert matching.strip_subject("about [team] x", ["[team]"]) == "about [team] x"
    assert matching.strip_subject("Ready: go", []) == "Ready: go"


@pytest.mark.parametrize(
    "subject",
    [
        "[National] Day of action",
        "[national] Day of action",
        "Re: [actions] [NATIONAL] Day of action",
        "Day of action [national]",
        "Fwd: Day of [National] action",
        "=?utf-8?q?=5BNational=5D_Gr=C3=BC=C3=9Fe?=",
    ],
)
def test_subject_tag_matches_bracketed_tag_anywhere(subject: str) -> None:
    ok, why = matches({"subject_tag": "national"}, mail(subject))
    assert ok, why
    assert "national" in why.lower()


@pytest.mark.parametrize(
    "subject",
    [
        "national day of action",
        "Re: National: day of action",
        "[nationals] day",
        "[international] day",
        "(national) day",
        "[ national ] day",
        "",
    ],
)
def test_subject_tag_needs_the_brackets(subject: str) -> None:
    ok, why = matches({"subject_tag": "national"}, mail(subject))
    assert not ok
    assert "[national]" in why.lower()


def test_subject_tag_with_no_subject_header() -> None:
    ok, _ = matches({"subject_tag": "national"}, mail(None))
    assert not ok


@pytest.mark.parametrize(
    "subject", ["[national] hello", "Re: [National] hello", "Re: Fwd: [NATIONAL] Re: hello"]
)
def test_the_lists_own_prefix_is_not_the_tag(subject: str) -> None:
    ok, why = matches({"subject_tag": "national"}, mail(subject), prefixes=["[national]"])
    assert not ok, why
    # ... but the same subject on a list with another prefix carries the tag
    assert matches({"subject_tag": "national"}, mail(subject), prefixes=["[actions]"])[0]


def test_header_condition_searches_decoded_values() -> None:
    raw = mail(extra=b"X-Topic: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n")
    ok, why = matches({"header": {"X-Topic": "Grüße"}}, raw)
    assert ok, why
    assert matches({"header": {"x-topic": "K.ln$"}}, raw)[0]  # header names any case
    assert matches({"header": {"X-Topic": "aus"}}, raw)[0]  # search, not match at start
    assert not matches({"header": {"X-Topic": "^aus"}}, raw)[0]
    assert not matches({"header": {"X-Topic": "=C3"}}, raw)[0]  # not the encoded form


def test_header_condition_tries_every_value() -> None:
    raw = mail(extra=b"X-Tag: alpha\r\nX-Tag: beta\r\n")
    assert matches({"header": {"X-Tag": "^beta$"}}, raw)[0]
    ok, why = matches({"header": {"X-Tag": "^gamma$"}}, raw)
    assert not ok
    assert "X-Tag" in why


def test_header_condition_with_folded_value() -> None:
    raw = mail(extra=b"X-Topic: first line\r\n second line\r\n")
    assert matches({"header": {"X-Topic": "line second"}}, raw)[0]


def test_missing_header_does_not_match_and_says_which() -> None:
    ok, why = matches({"header": {"X-Campaign": ".*"}}, mail())
    assert not ok
    assert "X-Campaign" in why


def test_all_header_patterns_must_hold() -> None:
    raw = mail(extra=b"X-A: one\r\nX-B: two\r\n")
    assert matches({"header": {"X-A": "one", "X-B": "two"}}, raw)[0]
    ok, why = matches({"header": {"X-A": "one", "X-B": "three"}}, raw)
    assert not ok
    assert "X-B" in why


def test_sender_glob_is_case_insensitive() -> None:
    raw = mail(sender="Ann <Ann.Smith@Philly.Example>")
    assert matches({"sender": "*@philly.example"}, raw)[0]
    assert matches({"sender": "ann.smith@PHILLY.example"}, raw)[0]
    assert matches({"sender": "ANN.*@*"}, raw)[0]
    ok, why = matches({"sender": "*@nyc.example"}, raw)
    assert not ok
    assert "*@nyc.example" in why


def test_sender_glob_without_from_address() -> None:
    raw = b"Subject: x\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n"
    ok, _ = matches({"sender": "*"}, raw)
    assert not ok


def test_any_true_and_false() -> None:
    assert matches({"any": True}, mail())[0]
    assert not matches({"any": False}, mail())[0]


def test_several_conditions_all_required() -> None:
    match = {"subject_tag": "national", "sender": "*@philly.example", "any": True}
    assert matches(match, mail("[national] x"))[0]
    ok, why = matches(match, mail("[national] x", sender="bob@nyc.example"))
    assert not ok
    assert "bob@nyc.example" in why
    ok, why = matches(match, mail("x"))
    assert not ok
    assert "[national]" in why
    assert not matches({**match, "any": False}, mail("[national] x"))[0]
    with_header = {**match, "header": {"X-Go": "yes"}}
    assert not matches(with_header, mail("[national] x"))[0]
    assert matches(with_header, mail("[national] x", extra=b"X-Go: yes\r\n"))[0]


def test_route_without_match_only_carries_shared_threads() -> None:
    ok, why = matches({}, mail("[national] x"))
    assert not ok
    assert "shared" in why
    assert "thread" in why


# --- the relayed copy ---------------------------------------------------------------

LST = ListInfo(id=1, local="actions", domain="lists.philly.example")
PHILLY = NodeSettings(name="philly.example")
OLD_TRACE = "nyc.example coc@lists.nyc.example"
NEW_TRACE = "philly.example actions@lists.philly.example"
INCOMING = (
    b"Received: from mx.nyc.example by lists.philly.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"From: Ann =?utf-8?q?M=C3=BCller?= <ann@example.org>\r\n"
    b"To: actions@lists.philly.example\r\n"
    b"Subject: Re: [actions] Plans\r\n"
    b"Message-ID: <plans-2@example.org>\r\n"
    b"In-Reply-To: <plans-1@example.org>\r\n"
    b"References: <plans-0@example.org>\r\n <plans-1@example.org>\r\n"
    b"X-Listfed-Trace: nyc.example\r\n coc@lists.nyc.example\r\n"
    b"x-listfed-signature: v=1; n=nyc.example; t=1; s=AAAA\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Let's meet at 6.\r\n"
    b"\r\n"
    b"From the minutes: \xc3\xbc\r\n"
    b"-- \r\n"
    b"Ann\r\n"
)


def post_of(raw: bytes, lst: ListInfo = LST) -> Post:
    return Post(
        queue_id=1,
        lst=lst,
        raw=raw,
        mail_from="ann@example.org",
        message=parse(raw),
        received=0.0,
    )


def out_route(prefix: str | None = None, forward: bool = True) -> RouteConfig:
    return RouteConfig(
        name="national",
        from_=LST.address,
        to=("coc@lists.nyc.example",),
        match={"any": True},
        follow_thread=True,
        prefix=prefix,
        forward=forward,
    )


def field_bytes(msg: RawMessage, name: str) -> list[bytes]:
    return [raw for n, raw in msg.fields if n.lower() == name.lower()]


def test_relayed_copy_keeps_identity_headers_and_body() -> None:
    original = RawMessage.parse(INCOMING)
    out = relayed_copy(post_of(INCOMING), out_route("[philly]"), PHILLY).to_bytes()
    copy = RawMessage.parse(out)
    for name in ("Message-ID", "From", "References", "In-Reply-To", "To", "Received"):
        assert field_bytes(copy, name) == field_bytes(original, name), name
    assert copy.body == original.body
    assert out.endswith(b"\r\n\r\n" + INCOMING.partition(b"\r\n\r\n")[2])
    assert parse(out).message_id == "plans-2@example.org"
    assert parse(out).references == ("plans-0@example.org", "plans-1@example.org")


def test_relayed_copy_drops_incoming_signatures() -> None:
    raw = INCOMING.replace(
        b"Content-Type", b"X-Listfed-Signature: v=1; n=atl.example; t=2; s=BBBB\r\nContent-Type"
    )
    copy = relayed_copy(post_of(raw), out_route(), PHILLY)
    assert copy.get_all(signing.SIGNATURE_HEADER) == []
    assert b"signature" not in copy.to_bytes().lower()


def test_relayed_copy_appends_one_trace_after_the_existing_ones() -> None:
    copy = relayed_copy(post_of(INCOMING), out_route(), PHILLY)
    values = [trace.normalise(v) for v in copy.get_all(trace.TRACE_HEADER)]
    assert values == [OLD_TRACE, NEW_TRACE]
    positions = [i for i, (n, _) in enumerate(copy.fields) if n.lower() == "x-listfed-trace"]
    assert len(positions) == 2 and positions[0] < positions[1]
    assert parse(copy.to_bytes()).traces == (OLD_TRACE, NEW_TRACE)
    assert trace.last_hop(parse(copy.to_bytes()).traces) == TraceEntry(
        "philly.example", LST.address, True
    )


def test_relayed_copy_of_a_first_hop_has_one_trace() -> None:
    raw = INCOMING.replace(b"X-Listfed-Trace: nyc.example\r\n coc@lists.nyc.example\r\n", b"")
    copy = relayed_copy(post_of(raw), out_route(), PHILLY)
    assert parse(copy.to_bytes()).traces == (NEW_TRACE,)


def test_relayed_copy_with_forward_false_says_forward_no() -> None:
    copy = relayed_copy(post_of(INCOMING), out_route(forward=False), PHILLY)
    traces = parse(copy.to_bytes()).traces
    assert traces == (OLD_TRACE, f"{NEW_TRACE}; forward=no")
    assert trace.forward_allowed(traces) is False
    assert parse_entry(traces[-1]) == TraceEntry("philly.example", LST.address, False)


def test_relayed_copy_route_prefix_replaces_the_list_prefix() -> None:
    copy = relayed_copy(post_of(INCOMING), out_route("[philly]"), PHILLY)
    subject = copy.get_decoded("Subject")
    assert subject is not None
    assert "[philly]" in subject
    assert "[actions]" not in subject.lower()
    assert "Plans" in subject
    assert subject.count("[philly]") == 1
    assert len(field_bytes(copy, "Subject")) == 1


def test_relayed_copy_does_not_add_the_route_prefix_twice() -> None:
    raw = INCOMING.replace(b"Re: [actions] Plans", b"Re: [philly] Plans")
    copy = relayed_copy(post_of(raw), out_route("[philly]"), PHILLY)
    assert (copy.get_decoded("Subject") or "").count("[philly]") == 1


def test_relayed_copy_leaves_a_subject_without_prefixes_byte_for_byte() -> None:
    subject = b"Subject: Meeting in =?utf-8?q?K=C3=B6ln?=\r\n  tomorrow,   6pm"
    raw = INCOMING.replace(b"Subject: Re: [actions] Plans", subject)
    copy = relayed_copy(post_of(raw), out_route(None), PHILLY)
    assert field_bytes(copy, "Subject") == [subject]
    assert copy.to_bytes().count(subject + b"\r\n") == 1


def test_relayed_copy_without_subject_and_prefix_adds_none() -> None:
    raw = INCOMING.replace(b"Subject: Re: [actions] Plans\r\n", b"")
    copy = relayed_copy(post_of(raw), out_route(None), PHILLY)
    assert field_bytes(copy, "Subject") == []


def test_signed_copy_verifies_as_the_receiving_node_reads_it() -> None:
    secret = "philly-nyc-shared"
    before = int(time.time())
    out = signed(
        relayed_copy(post_of(INCOMING), out_route("[philly]"), PHILLY),
        post_of(INCOMING),
        PHILLY,
        secret,
        time.time(),
    )
    after = int(time.time())
    body = out[out.find(b"\r\n\r\n") + 4 :]
    received = parse(out)
    assert len(received.signatures) == 1
    assert received.traces == (OLD_TRACE, NEW_TRACE)
    result = signing.verify(
        received.signatures[0],
        {"philly.example": secret},
        received.message_id,
        received.traces,
        body,
        time.time(),
        MAX_AGE,
    )
    assert result.ok, result.reason
    assert result.node == "philly.example"
    # and it is the signature SPEC §9 describes, computed independently
    tags = dict(part.strip().split("=", 1) for part in received.signatures[0].split(";"))
    assert tags["v"] == "1" and tags["n"] == "philly.example"
    assert before <= int(tags["t"]) <= after
    expected = spec_signature(
        secret, "philly.example", int(tags["t"]), "<plans-2@example.org>", received.traces, body
    )
    assert tags["s"] == expected
    # a different secret, or a changed body, does not verify
    assert not signing.verify(
        received.signatures[0],
        {"philly.example": "other"},
        received.message_id,
        received.traces,
        body,
        time.time(),
        MAX_AGE,
    ).ok
    assert not signing.verify(
        received.signatures[0],
        {"philly.example": secret},
        received.message_id,
        received.traces,
        body + b"PS\r\n",
        time.time(),
        MAX_AGE,
    ).ok


def test_signed_copy_of_an_lf_message_verifies() -> None:
    raw = INCOMING.replace(b"\r\n", b"\n")
    post = post_of(raw)
    out = signed(
        relayed_copy(post, out_route(forward=False), PHILLY), post, PHILLY, "k", time.time()
    )
    assert b"\n" not in out.replace(b"\r\n", b"")
    body = out[out.find(b"\r\n\r\n") + 4 :]
    received = parse(out)
    assert received.traces[-1] == f"{NEW_TRACE}; forward=no"
    result = signing.verify(
        received.signatures[0],
        {"PHILLY.example": "k"},
        received.message_id,
        received.traces,
        body,
        time.time(),
        MAX_AGE,
    )
    assert result.ok, result.reason


def test_signed_copy_with_an_8bit_trace_from_an_earlier_hop_verifies() -> None:
    # an earlier hop (say, an SMTPUTF8 node with a UTF-8 name) wrote its trace unencoded
    utf8_trace = "münchen.example coc@lists.münchen.example"
    raw = INCOMING.replace(
        b"X-Listfed-Trace: nyc.example\r\n coc@lists.nyc.example",
        b"X-Listfed-Trace: " + utf8_trace.encode("utf-8"),
    )
    post = post_of(raw)
    out = signed(relayed_copy(post, out_route(), PHILLY), post, PHILLY, "k", time.time())
    body = out[out.find(b"\r\n\r\n") + 4 :]
    received = parse(out)
    value = received.signatures[0]
    when = int(value.split("t=")[1].split(";")[0])
    # what SPEC §9 asks for: the header values as sent (UTF-8 text)
    assert value.endswith(
        "s="
        + spec_signature(
            "k", "philly.example", when, "<plans-2@example.org>", [utf8_trace, NEW_TRACE], body
        )
    )
    # and what the receiving node computes from its own reading of the message
    result = signing.verify(
        value,
        {"philly.example": "k"},
        received.message_id,
        received.traces,
        body,
        time.time(),
        MAX_AGE,
    )
    assert result.ok, (received.traces, result.reason)


def _inbound(hop: str) -> tuple[NodeSettings, Post]:
    body = b"Hi all.\r\n"
    value = signing.sign("k", "philly.example", int(time.time()), "x@y", [hop], body)
    raw = (
        f"From: ann@example.org\r\nMessage-ID: <x@y>\r\nX-Listfed-Trace: {hop}\r\n"
        f"X-Listfed-Signature: {value}\r\n\r\n"
    ).encode() + body
    nyc = NodeSettings(
        name="nyc.example",
        peers=(PeerConfig("philly", "philly.example", "k", ("lists.philly.example",)),),
    )
    return nyc, post_of(raw)


@pytest.mark.parametrize(
    "hop",
    [
        "philly.example actions@lists.philly.example",
        "philly.example  actions@lists.philly.example",  # signed exactly as written
    ],
)
def test_a_relay_signed_over_its_trace_as_written_is_trusted(hop: str) -> None:
    nyc, post = _inbound(hop)
    verdict = inbound.trusted(Context(None, nyc), post)  # type: ignore[arg-type]  # reads no table
    assert verdict is not None and verdict.decision is Decision.ACCEPT, post.reasons
    assert post.relay_from == "actions@lists.philly.example"


def test_a_relay_whose_signer_is_not_its_last_hop_is_an_ordinary_post() -> None:
    # a valid MAC by philly, over a trace whose last hop claims to be atl
    nyc, post = _inbound("atl.example coc@lists.atl.example")
    assert inbound.trusted(Context(None, nyc), post) is None  # type: ignore[arg-type]
    assert post.reasons == ["relay signature refused: signed by philly.example, not atl.example"]
