"""A spike for the next search issue: the same posts, the same queries, ranked by FTS5
(what listfed uses) and by tantivy (a Rust search library with Python bindings, whose
top-k search skips documents that cannot make the first page), in one run.

    python3 -m venv /tmp/tantivy-venv && /tmp/tantivy-venv/bin/pip install tantivy
    /tmp/tantivy-venv/bin/python bench/tantivy_spike.py --db NODE/var/listfed.db

It reads a listfed database read-only (e.g. bench/web.py's kept 100,000-post node),
builds a tantivy index of the archive's subject, author and text in a temporary folder
(timed), then runs each query `--runs` times on both, one after the other, on one core:
FTS5 ranking every match by the archive's own bm25 weights (`ORDER BY rank LIMIT 20`,
without listfed's newest-10,000 window), and tantivy's BM25 with the same column
weights as boosts. Only the ranking is timed: no snippets, no rows read, no page. Not a
test. It led to listfed/archive/topk, the web face's ranked index, which differs (its
own words, four fields, the newest first among equal scores): bench/web.py measures that.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

# bench/archive.py's queries that mean the same in both query languages
QUERIES = (
    "meeting",
    "budget",
    "sortition",
    "ombudsperson",
    "quorum motion",
    "childcare transport venue",
    '"general assembly"',
    '"rent strike" tenants',
    "leaflets OR posters",
    "canvass OR phonebank OR doorknock",
    "minutes",
)


def fts5(conn: sqlite3.Connection, query: str) -> int:
    match = " AND ".join(part for part in _fts_terms(query))
    rows = conn.execute(
        "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ? ORDER BY rank LIMIT 20", (match,)
    ).fetchall()
    return len(rows)


def _fts_terms(query: str) -> list[str]:
    if " OR " in query:
        return ["(" + " OR ".join(f'"{w}"' for w in query.split(" OR ")) + ")"]
    terms, phrase = [], ""
    for word in query.split(" "):
        if phrase:
            phrase += " " + word
            if word.endswith('"'):
                terms.append(phrase)
                phrase = ""
        elif word.startswith('"') and not word.endswith('"'):
            phrase = word
        else:
            terms.append(word if word.startswith('"') else f'"{word}"')
    return terms


def build(conn: sqlite3.Connection, folder: Path) -> tuple[object, object, float]:
    import tantivy  # only the spike needs it

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in ("subject", "sender", "body"):
        sb.add_text_field(name, stored=False)
    schema = sb.build()
    index = tantivy.Index(schema, path=str(folder))
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    start = time.perf_counter()
    rows = conn.execute("SELECT id, subject, sender, sender_name, body_text FROM archive")
    for post_id, subject, sender, name, body in rows:
        writer.add_document(
            tantivy.Document(id=post_id, subject=subject, sender=f"{sender} {name}", body=body)
        )
    writer.commit()
    writer.wait_merging_threads()
    took = time.perf_counter() - start
    index.reload()
    return index, index.searcher(), took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="a listfed database (read-only)")
    ap.add_argument("--runs", type=int, default=5, help="runs of each query on each side")
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, both sides
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    posts = conn.execute("SELECT count(*) FROM archive").fetchone()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {posts:,} posts in {args.db}")
    folder = Path(tempfile.mkdtemp(prefix="tantivy-spike-"))
    try:
        index, searcher, took = build(conn, folder)
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"tantivy index: built in {took:.1f} s, {size / 1e6:.0f} MB")
        weights = {"subject": 5.0, "sender": 2.0, "body": 1.0}  # listfed's bm25 weights
        both: dict[str, tuple[list[float], list[float]]] = {}
        for query in QUERIES:
            parsed = index.parse_query(  # type: ignore[attr-defined]
                query, list(weights), field_boosts=weights, conjunction_by_default=True
            )
            fts5(conn, query), searcher.search(parsed, 20)  # type: ignore[attr-defined]
            ours, theirs = [], []
            for _ in range(args.runs):  # alternating, so drift hits both alike
                start = time.process_time()
                fts5(conn, query)
                ours.append((time.process_time() - start) * 1000)
                start = time.process_time()
                searcher.search(parsed, 20)  # type: ignore[attr-defined]
                theirs.append((time.process_time() - start) * 1000)
            both[query] = (ours, theirs)
    finally:
        shutil.rmtree(folder)
    print("\n| query | FTS5, every match ranked: CPU ms | tantivy top 20: CPU ms | ratio |")
    print("|---|---:|---:|---:|")
    for query, (ours, theirs) in both.items():
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"| `{query}` | {a:.2f} | {b:.2f} | {a / b if b else float('inf'):,.0f}× |")
    every = [[x for q in both.values() for x in q[side]] for side in (0, 1)]
    for name, xs in zip(("FTS5", "tantivy"), every, strict=True):
        xs.sort()
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        print(f"{name}: median {statistics.median(xs):.2f} ms, p95 {p95:.2f} ms of CPU")


if __name__ == "__main__":
    main()
