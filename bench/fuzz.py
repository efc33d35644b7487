"""Fuzz the event decoder with millions of hostile messages; count escapes and conservation errors.

    python -m bench.fuzz [--messages 10000000] [--seed 12] [--report-every 100000]

Each message is mostly a mutation of a valid client message (bit flips, junk inserted, bytes
deleted, truncation, duplication, deep nesting, values swapped), else a poison kind (invalid UTF-8,
escaped lone surrogates, deep nesting), noise or a tombstone (`simulators/hostile.py`). For each,
`simulators.hostile.verdict` runs the decoder and checks: no exception escapes; events in =
accepted + refused; every position of a batch accounted once; Python's json, where it can parse the
message, sees as many events. One message in 1,000 is also compressed with a random Kafka codec,
mutated, and expanded by the worker's bounded codecs (only `DecompressionLimit` may come out).

Last line: `fuzz_messages=… escaped=0 conservation_errors=0 messages_per_s=…`.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import aiokafka.codec as kafka_codec  # noqa: E402

from simulators.hostile import Violation, hostile_message, mutate, valid_message, verdict  # noqa: E402
from streams.bounded_records import (  # noqa: E402
    DecompressionLimit,
    gzip_decode,
    lz4_decode,
    snappy_decode,
    zstd_decode,
)

CODECS = (
    (kafka_codec.gzip_encode, gzip_decode),
    (kafka_codec.snappy_encode, snappy_decode),
    (kafka_codec.lz4_encode, lz4_decode),
    (kafka_codec.zstd_encode, zstd_decode),
)
CODEC_LIMIT = 1 << 20


def codec_round(rng: random.Random, raw: bytes) -> None:
    """Compress, maybe mutate, expand with a bound: a value within it, or DecompressionLimit."""
    encode, decode = rng.choice(CODECS)
    data = encode(raw)
    if rng.random() < 0.7:
        data = mutate(rng, data)
    try:
        out = decode(data, CODEC_LIMIT)
    except DecompressionLimit:
        return
    if len(out) > CODEC_LIMIT:
        raise Violation(f"{decode.__name__} gave {len(out)} bytes > {CODEC_LIMIT}")
    verdict(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--report-every", type=int, default=100_000)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    pool = [valid_message(rng) for _ in range(2_000)]
    escaped = conservation = 0
    totals = [0, 0, 0]
    started = time.perf_counter()
    for i in range(1, args.messages + 1):
        x = rng.random()
        raw = hostile_message(rng) if x < 0.2 else mutate(rng, rng.choice(pool))
        try:
            units, accepted, refused = verdict(raw)
            totals[0] += units
            totals[1] += accepted
            totals[2] += refused
            if i % 1000 == 0:
                codec_round(rng, raw or b"")
        except Violation as v:
            if "escaped" in str(v):
                escaped += 1
            else:
                conservation += 1
            if escaped + conservation <= 20:
                print(f"VIOLATION at message {i}: {str(v)[:500]}", flush=True)
        except Exception as err:
            escaped += 1
            if escaped + conservation <= 20:
                print(f"ESCAPED at message {i}: {type(err).__name__}: {err}", flush=True)
        if i % args.report_every == 0:
            rate = i / (time.perf_counter() - started)
            print(
                f"{i:>10,} messages  {rate:8.0f}/s  events in {totals[0]:,} = accepted {totals[1]:,} "
                f"+ refused {totals[2]:,}  escaped {escaped}  conservation errors {conservation}",
                flush=True,
            )
    elapsed = time.perf_counter() - started
    print(
        f"fuzz_messages={args.messages} escaped={escaped} conservation_errors={conservation} "
        f"messages_per_s={args.messages / elapsed:.0f} events_in={totals[0]} accepted={totals[1]} "
        f"refused={totals[2]} seed={args.seed}"
    )


if __name__ == "__main__":
    main()
