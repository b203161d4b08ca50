"""A network search (`archive search --network`, the web face's "whole network"): this
node's public results and those of every peer with a web face (`[[peer]] web`), merged
(archive/network.py's rule), answered within the deadline whatever the peers do. A peer
that gives no usable answer is named in `missing`, with the reason.

Only public lists take part, on this node too: what one node shows another is what
anyone may read there, and a result on the page links to the post on its node.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from listfed.archive import network
from listfed.archive.network import BadAnswer, NetHit, post_path
from listfed.archive.query import compile_query
from listfed.archive.search import Found, Hit, NoSuchList, search
from listfed.config.settings import PeerConfig
from listfed.federation.peerweb import PeerError, Round
from listfed.listinfo import Visibility

if TYPE_CHECKING:  # the command line's network search does not load the index
    from listfed.archive.topk.index import Reader

MAX_ANSWER = 512 * 1024  # bytes of one peer's answer (100 hits need about 100 KB)
# kept from the deadline for merging the answers and showing them (a few ms at most)
RESERVE = 0.1
PUBLIC = (Visibility.PUBLIC.value,)


@dataclass(frozen=True)
class Network:
    """Who a network search asks, and how long it waits: from [node], [web], [[peer]]."""

    node: str  # this node's name
    base_url: str = ""  # this node's public address, for links to its own posts
    peers: tuple[PeerConfig, ...] = ()  # those with a web face are asked
    deadline: float = 3.0

    @property
    def asked(self) -> tuple[PeerConfig, ...]:
        return tuple(p for p in self.peers if p.web)


@dataclass(frozen=True)
class Missing:
    """A peer whose results are missing, and why (timeout, refused, bad answer...)."""

    peer: str
    node: str
    reason: str


@dataclass(frozen=True)
class NetworkFound:
    hits: list[NetHit]
    missing: list[Missing] = field(default_factory=list)
    nodes: int = 1  # how many nodes answered, this one included


def public_hits(
    conn: sqlite3.Connection, query: str, limit: int, ranked: Reader | None = None
) -> Found:
    """This node's best `limit` hits in public lists; a list: naming no public list here
    finds nothing (it may be on another node). QueryError for a malformed query.
    `ranked`: the ranked index, where the caller has one (the web face)."""
    try:
        return search(conn, query, None, limit, visibilities=PUBLIC, ranked=ranked)
    except NoSuchList:
        return Found([])


def network_search(
    conn: sqlite3.Connection,
    query: str,
    net: Network,
    limit: int = 20,
    own_root: str | None = None,
    ranked: Reader | None = None,
) -> NetworkFound:
    """The merged best `limit` hits of this node and its peers, within `net.deadline`
    (peers that have not answered RESERVE before it are cut).
    `own_root`: how links to this node's posts begin ("" for paths on this site;
    default: [node] base_url, none where it is unset). QueryError before asking anyone."""
    compile_query(query)
    peers = {p.name: p for p in net.asked}
    params = urlencode({"q": query, "limit": limit})
    asking = {name: f"{p.web}/search.json?{params}" for name, p in peers.items()}
    # the peers are asked in threads while this node searches its own archive
    pending = Round(asking, max(0.1, net.deadline - RESERVE), MAX_ANSWER, said=net.deadline)
    root = net.base_url if own_root is None else own_root
    linked = own_root is not None or bool(net.base_url)
    own = [
        NetHit(
            net.node,
            place,
            h.list,
            h.message_id,
            h.subject,
            author(h),
            h.date,
            h.snippet,
            root + post_path(h.list, h.message_id) if linked else "",
        )
        for place, h in enumerate(public_hits(conn, query, limit, ranked).hits, 1)
    ]
    answers, missing = [own], []
    for name, got in pending.answers().items():
        peer = peers[name]
        try:
            if isinstance(got, PeerError):
                raise got
            answers.append(_read(got, peer))
        except (PeerError, BadAnswer) as exc:
            reason = str(exc) if isinstance(exc, PeerError) else f"bad answer: {exc}"
            missing.append(Missing(peer.name, peer.node, reason))
    return NetworkFound(network.merge(answers, limit), missing, len(answers))


def _read(body: bytes, peer: PeerConfig) -> list[NetHit]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadAnswer("not JSON") from None

    def link(list_address: str, message_id: str) -> str:
        return peer.web + post_path(list_address, message_id)

    return network.read_answer(data, peer.node, link)


def author(hit: Hit) -> str:
    """Who wrote a hit, as other nodes are told (SPEC §10: a name, or `user at domain`)."""
    local, at, domain = hit.sender.rpartition("@")
    return hit.sender_name or (f"{local} at {domain}" if at else hit.sender)
