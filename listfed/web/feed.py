"""An Atom 1.0 feed (RFC 4287) of a list's newest posts, written with ElementTree (which
escapes), after dropping the characters XML 1.0 cannot carry at all."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

from listfed.archive.answers import iso
from listfed.archive.browse import ListRow
from listfed.archive.network import msgid_segment
from listfed.archive.posts import Post
from listfed.web.render import at

ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def entry_id(list_address: str, message_id: str) -> str:
    """Stable per post: the same list and Message-ID always give the same id."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"listfed:{list_address}/{message_id}"))


def atom(lst: ListRow, newest: list[Post], root: str) -> bytes:
    """The feed document; `root` is the site's absolute address."""
    home = f"{root}/{lst.address}/"
    top = ET.Element("feed", xmlns=ATOM)
    _add(top, "id", entry_id(lst.address, ""))
    _add(top, "title", at(lst.address) + (f" — {lst.description}" if lst.description else ""))
    _add(top, "updated", iso(newest[0].date) if newest else iso(0))
    ET.SubElement(top, "link", rel="alternate", type="text/html", href=home)
    ET.SubElement(top, "link", rel="self", href=f"{home}atom.xml")
    author = ET.SubElement(top, "author")
    _add(author, "name", at(lst.address))
    for post in newest:
        item = ET.SubElement(top, "entry")
        _add(item, "id", entry_id(lst.address, post.message_id))
        _add(item, "title", post.subject or "(no subject)")
        _add(item, "updated", iso(post.date))
        href = f"{home}m/{msgid_segment(post.message_id)}"
        ET.SubElement(item, "link", rel="alternate", type="text/html", href=href)
        who = ET.SubElement(item, "author")
        # a name, never an address: without one, the address's local part
        _add(who, "name", post.sender_name or post.sender.partition("@")[0] or "(unknown)")
        _add(item, "content", at(post.body_text), type="text")
    document: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return document


def _add(parent: ET.Element, name: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    element.text = _text(text)
    return element
