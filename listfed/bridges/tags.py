"""A bridged list seen from our list: its subject tag, found on its posts and shown on our
members' copies as the bridge says (`retag`: kept, stripped or replaced), and taken off
what goes out to it (the foreign list puts its own on); and the addresses that our
members' copies of its posts point home to our list (delivery/homeward.py): the foreign
list's, and an SMTP bridge's own (Mailman names it as the author of what we sent)."""

from __future__ import annotations

from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.delivery.subjects import ForeignTag
from listfed.post import OriginKind, Post


def of_list(node: NodeSettings, address: str) -> list[BridgeConfig]:
    """The bridges of the list `address`."""
    return [b for b in node.bridges if b.list.casefold() == address.casefold()]


def subject_tags(node: NodeSettings, address: str) -> list[ForeignTag]:
    """The foreign lists' tags, and what our copies show for each, on the list's posts."""
    return [ForeignTag(b.subject_tag, b.shown_tag) for b in of_list(node, address)]


def away(node: NodeSettings, post: Post) -> list[str]:
    """The addresses that, on a post taken in through a bridge, become the list's own
    on our members' copies: the foreign lists', and the SMTP bridges' (a reply there
    would reach the bridge, not the list). An IMAP bridge's post_as may be a person's
    own address, and stays. None for any other post."""
    if post.origin.kind not in (OriginKind.BRIDGE, OriginKind.BRIDGED):
        return []
    bridges = of_list(node, post.lst.address)
    return [b.foreign for b in bridges] + [b.address for b in bridges if b.address]


def going_out(bridge: BridgeConfig) -> set[str]:
    """The tags taken off a post that goes out to the foreign list: its own (it puts it
    back on, once) and what our copies showed for it."""
    return {t for t in (bridge.subject_tag, bridge.shown_tag) if t}
