"""Federation pieces on their own: trace headers, route matching, the relayed copy and
its signature as sent and as received, with no node, database or network (the
signature's own definition: test_federation_signing)."""

from __future__ import annotations

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
from tests.federation import spec_v1, spec_v2

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


MAX_AGE = 7 * 86400.0
NYC_LIST = "coc@lists.nyc.example"


def verify(
    value: str, secrets: dict[str, str], out: bytes, target: str = NYC_LIST, accept_v1: bool = True
) -> signing.Checked:
    """Check `value` as the node receiving `out` on the list `target` does."""
    received = parse(out)
    covered = signing.Covered(
        received.message_id,
        received.traces,
        out[out.find(b"\r\n\r\n") + 4 :],
        target,
        signing.field_values(received.head),
    )
    return signing.verify(value, secrets, covered, time.time(), MAX_AGE, accept_v1=accept_v1)


def test_signed_copy_verifies_as_the_receiving_node_reads_it() -> None:
    secret = "philly-nyc-shared"
    before = int(time.time())
    post = post_of(INCOMING)
    out = signed(
        relayed_copy(post, out_route("[philly]"), PHILLY), post, PHILLY, secret, NYC_LIST, before
    )
    body = out[out.find(b"\r\n\r\n") + 4 :]
    received = parse(out)
    # [node] sign_v1 (on by default): SPEC §9's v=1 first, for peers that know only it
    first, value = received.signatures
    assert received.traces == (OLD_TRACE, NEW_TRACE)
    v1 = spec_v1(secret, "philly.example", before, "<plans-2@example.org>", received.traces, body)
    assert first == f"v=1; n=philly.example; t={before}; s={v1}"
    result = verify(value, {"philly.example": secret}, out)
    assert result.ok, result.reason
    assert result.node == "philly.example"
    # and it is the signature SPEC §9 describes, computed independently
    tags = dict(part.strip().split("=", 1) for part in value.split(";"))
    assert tags["v"] == "2" and tags["n"] == "philly.example"
    assert int(tags["t"]) == before
    fields = (
        "Ann =?utf-8?q?M=C3=BCller?= <ann@example.org>",
        "[philly] Re: Plans",
        "text/plain; charset=utf-8",
    )
    expected = spec_v2(
        secret,
        "philly.example",
        before,
        NYC_LIST,
        fields,
        "<plans-2@example.org>",
        received.traces,
        body,
    )
    assert tags["s"] == expected
    # a different secret, list, body or field does not verify
    assert not verify(value, {"philly.example": "other"}, out).ok
    assert not verify(value, {"philly.example": secret}, out, "other@lists.nyc.example").ok
    assert not verify(value, {"philly.example": secret}, out + b"PS\r\n").ok
    for old, new in [
        (b"Ann =?utf-8?q?M=C3=BCller?=", b"Mallory"),
        (b"[philly] Re: Plans", b"[philly] Re: Plans!"),
        (b"text/plain; charset=utf-8", b"text/html; charset=utf-8"),
    ]:
        assert old in out
        assert not verify(value, {"philly.example": secret}, out.replace(old, new, 1)).ok


def test_the_target_is_compared_lower_cased() -> None:
    post = post_of(INCOMING)
    copy = relayed_copy(post, out_route(), PHILLY)
    out = signed(copy, post, PHILLY, "k", "COC@Lists.NYC.example", time.time())
    assert verify(parse(out).signatures[-1], {"philly.example": "k"}, out).ok


def test_without_sign_v1_a_relay_carries_v2_only() -> None:
    post = post_of(INCOMING)
    node = NodeSettings(name="philly.example", sign_v1=False)
    out = signed(relayed_copy(post, out_route(), node), post, node, "k", NYC_LIST, time.time())
    [value] = parse(out).signatures
    assert value.startswith("v=2; ") and verify(value, {"philly.example": "k"}, out).ok


def test_a_copy_with_a_repeated_signed_field_goes_unsigned() -> None:
    raw = INCOMING.replace(b"To:", b"Subject: Other\r\nTo:")
    post = post_of(raw)
    out = signed(relayed_copy(post, out_route(), PHILLY), post, PHILLY, "k", NYC_LIST, 0.0)
    assert parse(out).signatures == ()
    assert b"Subject: Other\r\n" in out


def test_signed_copy_of_an_lf_message_verifies() -> None:
    raw = INCOMING.replace(b"\r\n", b"\n")
    post = post_of(raw)
    out = signed(
        relayed_copy(post, out_route(forward=False), PHILLY),
        post,
        PHILLY,
        "k",
        NYC_LIST,
        time.time(),
    )
    assert b"\n" not in out.replace(b"\r\n", b"")
    received = parse(out)
    assert received.traces[-1] == f"{NEW_TRACE}; forward=no"
    result = verify(received.signatures[0], {"PHILLY.example": "k"}, out)
    assert result.ok, result.reason


def test_signed_copy_with_folded_fields_verifies() -> None:
    raw = INCOMING.replace(
        b"From: Ann =?utf-8?q?M=C3=BCller?= <ann@example.org>",
        b"From: Ann =?utf-8?q?M=C3=BCller?=\r\n    <ann@example.org>  ",
    ).replace(b"Content-Type: text/plain;", b"Content-Type: text/plain;\n\t")
    post = post_of(raw)
    out = signed(relayed_copy(post, out_route(), PHILLY), post, PHILLY, "k", NYC_LIST, time.time())
    assert b"\r\n    <ann@example.org>" in out
    result = verify(parse(out).signatures[0], {"philly.example": "k"}, out)
    assert result.ok, result.reason


def test_signed_copy_with_an_8bit_trace_from_an_earlier_hop_verifies() -> None:
    # an earlier hop (say, an SMTPUTF8 node with a UTF-8 name) wrote its trace unencoded
    utf8_trace = "münchen.example coc@lists.münchen.example"
    raw = INCOMING.replace(
        b"X-Listfed-Trace: nyc.example\r\n coc@lists.nyc.example",
        b"X-Listfed-Trace: " + utf8_trace.encode("utf-8"),
    )
    post = post_of(raw)
    out = signed(relayed_copy(post, out_route(), PHILLY), post, PHILLY, "k", NYC_LIST, time.time())
    body = out[out.find(b"\r\n\r\n") + 4 :]
    received = parse(out)
    value = received.signatures[-1]
    when = int(value.split("t=")[1].split(";")[0])
    fields = signing.field_values(received.head)
    assert fields is not None
    # what SPEC §9 asks for: the header values as sent (UTF-8 text)
    expected = spec_v2(
        "k",
        "philly.example",
        when,
        NYC_LIST,
        fields,
        "<plans-2@example.org>",
        [utf8_trace, NEW_TRACE],
        body,
    )
    assert value.endswith("s=" + expected)
    # and what the receiving node computes from its own reading of the message
    result = verify(value, {"philly.example": "k"}, out)
    assert result.ok, (received.traces, result.reason)


def _inbound(
    hop: str, version: int = 2, accept_v1: bool = True, target: str = LST.address
) -> tuple[NodeSettings, Post]:
    """A relay signed by philly for `target`, arriving on LST at a node that knows philly."""
    body = b"Hi all.\r\n"
    when = int(time.time())
    head = f"From: ann@example.org\r\nMessage-ID: <x@y>\r\nX-Listfed-Trace: {hop}\r\n"
    if version == 1:
        mac = spec_v1("k", "philly.example", when, "x@y", [hop], body)
        value = f"v=1; n=philly.example; t={when}; s={mac}"
    else:
        fields = ("ann@example.org", "", "")
        covered = signing.Covered("x@y", [hop], body, target, fields)
        value = signing.sign("k", "philly.example", when, covered)
    raw = f"{head}X-Listfed-Signature: {value}\r\n\r\n".encode() + body
    node = NodeSettings(
        name="nyc.example",
        peers=(PeerConfig("philly", "philly.example", "k", ("lists.philly.example",)),),
        accept_v1_signatures=accept_v1,
    )
    return node, post_of(raw)


def _trusted(node: NodeSettings, post: Post) -> Decision | None:
    verdict = inbound.trusted(Context(None, node), post)  # type: ignore[arg-type]  # reads no table
    return None if verdict is None else verdict.decision


@pytest.mark.parametrize(
    "hop",
    [
        "philly.example actions@lists.philly.example",
        "philly.example  actions@lists.philly.example",  # signed exactly as written
    ],
)
def test_a_relay_signed_over_its_trace_as_written_is_trusted(hop: str) -> None:
    nyc, post = _inbound(hop)
    assert _trusted(nyc, post) is Decision.ACCEPT, post.reasons
    assert post.relay_from == "actions@lists.philly.example"


def test_a_relay_whose_signer_is_not_its_last_hop_is_an_ordinary_post() -> None:
    # a valid MAC by philly, over a trace whose last hop claims to be atl
    nyc, post = _inbound("atl.example coc@lists.atl.example")
    assert _trusted(nyc, post) is None
    assert post.reasons == ["relay signature refused: signed by philly.example, not atl.example"]


def test_a_relay_signed_for_another_list_is_an_ordinary_post() -> None:
    nyc, post = _inbound(NEW_TRACE, target="other@lists.philly.example")
    assert _trusted(nyc, post) is None
    assert post.reasons == ["relay signature refused: the signature does not match the message"]


@pytest.mark.parametrize("accept", [True, False])
def test_a_v1_relay_is_trusted_only_while_the_node_accepts_v1(accept: bool) -> None:
    nyc, post = _inbound(NEW_TRACE, version=1, accept_v1=accept)
    if accept:
        assert _trusted(nyc, post) is Decision.ACCEPT, post.reasons
    else:
        assert _trusted(nyc, post) is None
        assert post.reasons == [f"relay signature refused: {signing.V1_REFUSED}"]
