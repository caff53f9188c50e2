"""Judging many envelopes without stalling the event loop: a slice at a time.

A slice is at most SLICE envelopes and, past its first, SLICE_BYTES of change bytes (a
large change parses slowly); each slice is its own ingest transaction, and the loop
gets a turn between two. The sync endpoint judges pushes so (and stops between slices
when the sender owes too much), the sync client what it pulled. Slices commit unsynced
(Store.unsynced): their caller syncs once before it tells anyone what was stored, with
`made_durable`, which leaves the loop free while the disk syncs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pnyx.federation.envelope import Envelope
from pnyx.federation.sync import BATCH_ENVELOPES

from ..store.ingest import Ingestor, IngestReport
from ..store.sqlite import Store

SLICE = 50  # a push from a sender not known here: a slice at a time, so junk is cut off early
# What this daemon pulled, and a push from a known sender: BATCH_ENVELOPES in one transaction
# (a pulled batch holds up to four: PULL_ENVELOPES). Each commit writes every page the
# transaction touched to the WAL: measured over 10k pulled changes, 250 a commit wrote 27.8 MB
# of WAL and committed in 0.30 s (synced), 500 a commit 19.0 MB in 0.12-0.16 s; 1,000 and
# 2,000 a commit stored no faster than 500 (CPU time, bench sync's ledgers), and would hold
# the event loop two and four times as long. Measured again with documents numbered
# (daemon/store/sqlite.py), pulling 50k changes of 10 ledgers in batches of 2,000: 500 a
# commit wrote 0.99 WAL frames a change (0.41 over the first 10k, 1.26 over the last), up to
# 2,000 (SLICE_BYTES ends such a slice near 1,000) 0.80 (0.33, 0.90), no faster (272-461 against
# 275-283 us a change, a loaded machine), and held the loop 247-276 ms against 133-215 (median).
PULLED_SLICE = BATCH_ENVELOPES
SLICE_BYTES = 256 << 10


def slice_end(envelopes: Sequence[Envelope], start: int, most: int = SLICE) -> int:
    """Where the slice that starts at `start` ends: at most `most` envelopes."""
    end, size = start, 0
    while end < len(envelopes) and end - start < most and (size < SLICE_BYTES or end == start):
        size += len(envelopes[end].change)
        end += 1
    return end


async def ingest_in_slices(ingestor: Ingestor, envelopes: Sequence[Envelope], source: str,
                           clear: asyncio.Event | None = None) -> IngestReport:
    """`clear`: each slice waits for it first (the sync client's: the request it sent last is
    on the wire), so that no slice holds the loop while a request waits to leave."""
    report = IngestReport()
    start = 0
    while start < len(envelopes):
        if clear is not None:
            await _cleared(clear)
        end = slice_end(envelopes, start, PULLED_SLICE)
        with ingestor.store.unsynced():
            report.merge(ingestor.ingest(envelopes[start:end], source))
        start = end
        await asyncio.sleep(0)
    return report


async def _cleared(event: asyncio.Event, turns: int = 20) -> None:
    """Once `event` is set. The loop is turned a few times first without waiting for I/O:
    what sets it (aiohttp sending a request) takes only turns of the loop, and a process that
    waits for I/O instead gives up its core, which on a busy machine it gets back late."""
    for _ in range(turns):
        if event.is_set():
            return
        await asyncio.sleep(0)
    await event.wait()


async def made_durable(store: Store) -> None:
    """Store.sync with the event loop free meanwhile: the fsync runs on a thread (measured,
    a few ms to tens of ms each, during which the daemon would answer nobody). It returns once
    every commit made before it was called is durable; commits made meanwhile, by requests
    the loop served, are left to their own caller's sync."""
    due = store.sync_due()
    if due is not None:
        await asyncio.to_thread(store.sync_wal)
        store.synced(due)
