"""The layers of DESIGN.md, read from the source: every import counts, lazy ones inside
functions too; only `if TYPE_CHECKING:` blocks are left out.

(a) the stage and storage layers never import a skin (ops, cli, robots, web, the
    service or the intake worker);
(b) listfed's top-level packages and modules form no import cycle;
(c) only listfed/mail/ calls the email package's parsers and decoders (or mail-parser).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "listfed"

# What may call the layers below it, and is never called by them.
SKINS = {"cli", "web", "robots", "ops", "service", "dispatch", "courier", "__main__"}

# Parsers and decoders of the email package (and mail-parser): listfed/mail/ alone uses them.
READERS = {
    "message_from_bytes",
    "message_from_string",
    "message_from_file",
    "message_from_binary_file",
    "Parser",
    "BytesParser",
    "HeaderParser",
    "BytesHeaderParser",
    "FeedParser",
    "BytesFeedParser",
    "decode_header",
    "make_header",
    "getaddresses",
    "parseaddr",
    "parsedate",
    "parsedate_tz",
    "parsedate_to_datetime",
    "decode_rfc2231",
    "collapse_rfc2231_value",
    "decode_params",
}


def _module(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imports(path: Path, root: Path = PACKAGE) -> Iterator[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    module = _module(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield name, [a.name for a in node.names], node.lineno


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _unit(module: str) -> str:
    """The top-level package or module of listfed that `module` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "listfed" else ""


def _targets(name: str, names: list[str]) -> set[str]:
    """The listfed units an import reaches: `from listfed import x` reaches x."""
    if name == "listfed":
        return set(names)
    unit = _unit(name)
    return {unit} if unit else set()


def test_the_stage_and_storage_layers_never_import_a_skin() -> None:
    found = []
    for path in _sources():
        unit = _unit(_module(path))
        if unit in SKINS:
            continue
        for name, names, line in _imports(path):
            reached = _targets(name, names) & SKINS
            if reached:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert found == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        unit = _unit(_module(path))
        for name, names, _line in _imports(path):
            for target in _targets(name, names):
                if unit and target != unit:
                    graph[unit].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_top_level_parts_form_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_every_kind_of_intake_has_a_worker() -> None:
    from listfed.addresses import Kind
    from listfed.dispatch import HANDLED_KINDS

    assert sorted(HANDLED_KINDS) == sorted(kind.value for kind in Kind)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _reader_calls(path: Path, root: Path = PACKAGE) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name, names, line in _imports(path, root):
        if name == "mailparser" or name.startswith("mailparser."):
            yield f"line {line}: imports {name}"
        if name == "email" or name.startswith("email."):
            for taken in set(names) & READERS:
                yield f"line {line}: imports {taken} from {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in READERS:
            owner = ast.unparse(node.value)
            if owner == "email" or owner.startswith(("email.", "mailparser")):
                yield f"line {node.lineno}: calls {owner}.{node.attr}"


def test_only_the_mail_package_reads_messages() -> None:
    found = []
    for path in _sources():
        if _unit(_module(path)) == "mail":
            continue
        found += [f"{path.relative_to(PACKAGE.parent)} {what}" for what in _reader_calls(path)]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from email.utils import getaddresses\n",
            ["line 1: imports getaddresses from email.utils"],
        ),
        (
            "import email\nemail.message_from_bytes(b'')\n",
            ["line 2: calls email.message_from_bytes"],
        ),
        ("import mailparser\n", ["line 1: imports mailparser"]),
        ("from email.utils import formatdate\n", []),
    ],
)
def test_the_reader_check_sees_imports_and_calls(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    probe = tmp_path / "listfed" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source)
    assert list(_reader_calls(probe, probe.parent)) == expected
