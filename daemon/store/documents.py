"""Automerge documents materialized from the store, and contained application.

A document is loaded from its latest snapshot plus the newer changes, and
caught up from the store on every access, so that a CLI process and the
daemon writing the same store see each other's changes. Applying a verified
change goes through a hand-built sync message (the binding has no
apply_changes); if Automerge does not end up holding the change, the cached
document is thrown away and rebuilt from the store, which was never touched,
unless Automerge refused it silently and the document's heads did not move.
While ingest judges a batch the fast way (`staging`), accepted changes are
staged and each document's are applied together (daemon/store/staging.py).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Iterable, Sequence

from automerge.core import ROOT, Document, Message, SyncState
from pnyx.federation.amvalues import Plain, read_entry
from pnyx.federation.bounded import make_room
from pnyx.federation.charter import CHARTER_ID_RE
from pnyx.federation.chunk import encode_uleb
from pnyx.federation.confed import Record, charter_record
from pnyx.federation.docids import charter_doc_id, ledger_id
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Profile, read_profile
from pnyx.federation.ops import OpId
from pnyx.federation.sync import PULL_ENVELOPES
from pnyx.federation.writerules import Path, resolve_path

from .snapshots import Snapshots, automerge_failed
from .sqlite import Store
from .staging import Staged, StagedApplyFailed

SYNC_MESSAGE_V1 = 0x42
APPLY_BATCH = 1_000
MAX_REMEMBERED = 10_000  # device states and entries remembered; past it the older half is forgotten
# Changes held by the cached documents together; past it the documents not asked for in the
# last UNUSED_AFTER reads are let go (snapshotted first if due), so that receiving many
# documents one after the other stays bounded in memory (Automerge takes about 3.6 kB per
# whole decision held, twelve ops: plain Automerge holding 50k of them peaks at 220 MB; at
# 20,000 a daemon pulling them peaked at 158 MB, pushed to at 161, at 12,000 129 and 135 (bench
# sync), and bench ingest's receiving process at 147, at 10,000 at 132), while documents
# whose changes arrive interleaved are never reloaded in turn: a pull of PULL_ENVELOPES
# changes, grouped by document, reads each of its documents once in that many reads, so a
# document goes unused for longer only when its changes stop coming.
# (At 1,000 reads, a catch-up of 10 ledgers interleaved in pulls of
# 2,000 let each go and loaded it again every pull: 100-300 us more a change, measured.)
MAX_CACHED_CHANGES = 10_000
# Each cached document counts as this many changes more: Automerge holds a document of 3
# decisions in 22.8 kB, of 5,000 in 3.6 kB a decision (measured), so that a cache of small
# documents counted by their changes alone held twice the memory, 50 MB of a `pnyx verify`
# of 20,000 documents of 3 changes.
DOCUMENT_WEIGHT = 4
UNUSED_AFTER = 2 * PULL_ENVELOPES


def apply_chunks(doc: Document, chunks: Sequence[bytes]) -> None:
    """Hand canonical change chunks to Automerge as a v1 sync message with no heads."""
    if not chunks:
        return
    body = [bytes([SYNC_MESSAGE_V1]), encode_uleb(0), encode_uleb(0), encode_uleb(0),
            encode_uleb(len(chunks))]
    append = body.append
    for chunk in chunks:  # each chunk's length: chunk.encode_uleb's two short forms inlined (a
        n = len(chunk)    # call of it cost 2.0k instructions a change, callgrind)
        append(bytes((n,)) if n < 0x80 else bytes((n & 0x7F | 0x80, n >> 7)) if n < 0x4000
               else encode_uleb(n))
        append(chunk)
    doc.receive_sync_message(SyncState(), Message.decode(b"".join(body)))


def release_free_memory() -> None:
    """Hand the memory freed by dropped documents back to the system. Automerge allocates
    through the C library's malloc, which on glibc keeps freed memory in the process
    unless asked (malloc_trim); elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], object] | None:
    """glibc's malloc_trim, looked up once among the symbols the process has loaded. Found by
    ctypes.util.find_library at each call, it cost a child process running `ldconfig -p` (a
    fork of this one, large during a catch-up): 3-20 ms a call, four calls every 10k changes
    of a catch-up once documents are let go (measured), none in the first 20k."""
    if sys.platform != "linux":
        return None
    trim: Callable[[int], object] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    return trim


class DocumentCache:
    """Materialized documents by id, each with the last store seqno it includes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._docs: dict[str, tuple[Document, int]] = {}  # least recently used first
        self._sizes: dict[str, int] = {}  # cached document -> changes it holds, + its weight ...
        self._cached_changes = 0  # ... and all of them together
        self._bound: int | None = None  # ... kept when unused (None: MAX_CACHED_CHANGES)
        self._reads = 0  # documents asked for so far ...
        self._read_at: dict[str, int] = {}  # ... and when each cached one was last
        self._caught_up: dict[str, int] = {}  # document -> the write transaction it caught up in
        self._paths: dict[tuple[str, OpId], Path | None] = {}  # held objects never move
        self.snapshots = Snapshots(store)
        # ledger change hash -> the change as of which `devices` was last possibly changed
        self._devices_state: dict[bytes, bytes] = {}
        self._entries: dict[tuple[bytes, bytes], Plain] = {}  # (devices state, device) -> entry
        self._profiles: dict[str, Profile | None] = {}  # ledger -> its profile, once held
        self._charters: dict[str, Record] = {}  # charter id -> its record, once held
        # While ingest judges a batch the fast way: accepted changes wait here per document
        # and are applied together (daemon/store/staging.py).
        self.staging = False
        self._staged: dict[str, Staged] = {}
        self._asked: dict[str, set[Path]] = {}  # staged doc -> paths asked about (has_entry)
        self._before: dict[str, tuple[int, int]] = {}  # staged doc -> (upto, size) before it
        self._dirty: set[str] = set()  # documents given some of this batch's changes
        # Documents may hold changes of a transaction that was rolled back (a COMMIT on a full
        # disk): reads must never show what was not stored, so all are rebuilt from the store.
        store.abort_hooks.append(self.forget_everything)

    def get(self, doc_id: str) -> Document:
        """The document with every change the store holds for it."""
        cached = self._docs.pop(doc_id, None)
        if cached is None:
            doc, upto = self.snapshots.load(doc_id)
            self._sizes[doc_id] = DOCUMENT_WEIGHT + self.store.count_changes_of(doc_id, upto)[1]
            self._cached_changes += self._sizes[doc_id]
        else:
            doc, upto = cached
        writing = self.store.writing
        if cached is None or not writing or self._caught_up.get(doc_id) != writing:
            # inside a write transaction no other process writes, and what this one stores
            # is applied here (mark_stored): one catch-up per document per transaction
            upto = self._catch_up(doc_id, doc, upto)
            if writing:
                self._caught_up[doc_id] = writing
        self._docs[doc_id] = (doc, upto)
        self._touch(doc_id)
        if doc_id in self._staged:
            self._apply_staged(doc_id)
        self._let_go()
        return doc

    def keep_only_in_use(self) -> None:
        """For a process that ends once it has received (`pnyx sync`, `pnyx bundle import`):
        every document unused in the last UNUSED_AFTER reads is let go, however few changes the
        others hold, since such a process reads none of them again (the snapshots due are saved
        either way: when let go, else when the node is closed). Receiving 50k changes in 10
        ledgers, one after the other as a catch-up and a bundle bring them, with a daemon's
        bound (then 20,000 changes), which kept four ledgers they were done with, `pnyx sync`
        peaked at 118 MB and `pnyx bundle import` at 103 MB; so, at 93 and 77 MB (measured)."""
        self._bound = 0

    def _touch(self, doc_id: str) -> None:
        """Count a use of a cached document: each read, and each change staged for it."""
        self._reads += 1
        self._read_at[doc_id] = self._reads

    def _let_go(self) -> None:
        """Past MAX_CACHED_CHANGES, forget the least recently used documents, unused in the
        last UNUSED_AFTER reads, until the rest hold a tenth fewer changes; each is
        snapshotted first if its snapshot is due (daemon/store/snapshots.py). Documents with
        staged changes stay. Snapshots taken on a read are stored in the next write transaction."""
        snapshots = self.snapshots
        if snapshots.unstored and self.store.writing:
            snapshots.store_taken()
        bound = MAX_CACHED_CHANGES if self._bound is None else self._bound
        if self._cached_changes <= bound or len(self._docs) <= 1:
            return
        # Down to a tenth below the bound, from the least recently read on, up to the first one
        # in use: so that, receiving many small documents, letting go (and handing memory back)
        # comes once in a while, not at each new document after a look at every one cached
        # (`pnyx verify` of 20,000 documents of 3 changes: 16,667 looks; 14.5 s, then 8.3, measured).
        excess = self._cached_changes - (bound - bound // 10)
        unused = []
        for doc_id in self._docs:
            if excess <= 0 or self._reads - self._read_at[doc_id] < UNUSED_AFTER:
                break
            if doc_id not in self._staged:
                unused.append(doc_id)
                excess -= self._sizes.get(doc_id, 0)
        for doc_id in unused:
            if snapshots.due(doc_id):
                doc, upto = self._docs[doc_id]
                snapshots.take(doc_id, upto, doc)
            self.forget(doc_id)
        if unused:
            release_free_memory()

    def _catch_up(self, doc_id: str, doc: Document, upto: int) -> int:
        batch: list[bytes] = []
        for seqno, chunk in self.store.changes_of(doc_id, upto):
            batch.append(chunk)
            upto = seqno
            if len(batch) >= APPLY_BATCH:
                apply_chunks(doc, batch)
                batch = []
        apply_chunks(doc, batch)
        return upto

    def apply_verified(self, doc_id: str, chunk: bytes, change_hash: bytes,
                       deps: Sequence[bytes]) -> None:
        """Apply one verified change to the cached document; Rejected if Automerge refuses.
        While `staging`, the change is staged instead, and applied with the others of its
        document when the batch ends or before the document is read.

        The caller stores the change afterwards and reports its seqno with `mark_stored`."""
        if self.staging:  # asked for every change: _touch and Staged.add inlined
            staged = self._staged.get(doc_id)
            if staged is None:
                staged = self._first_staged(doc_id)
            else:
                self._reads += 1
                self._read_at[doc_id] = self._reads
            staged.chunks.append(chunk)
            staged.hashes.append(change_hash)
            if deps:
                staged.deps.update(deps)
            else:
                staged.first = True
            return
        doc = self.get(doc_id)
        before = doc.get_heads()
        try:
            apply_chunks(doc, [chunk])
            heads = doc.get_heads()
        except BaseException as exc:  # the binding may raise anything, even panics
            self.forget(doc_id)
            if not automerge_failed(exc):
                raise
            raise Rejected(Reason.APPLY_FAILED, f"automerge refused it: {type(exc).__name__}") from None
        if change_hash not in heads:
            # Refused without a word: a document whose heads did not move holds nothing new and
            # is kept, so a push of such changes does not rebuild the document for each one.
            if sorted(heads) != sorted(before):
                self.forget(doc_id)
            raise Rejected(Reason.APPLY_FAILED, "automerge did not take the change")

    def _first_staged(self, doc_id: str) -> Staged:
        """A document's first change staged in a batch: loaded and caught up before it."""
        self.get(doc_id)
        if doc_id not in self._before:
            self._before[doc_id] = (self._docs[doc_id][1], self._sizes.get(doc_id, 0))
        staged = self._staged[doc_id] = Staged()
        return staged

    def _apply_staged(self, doc_id: str) -> None:
        """Apply a document's staged changes in one message; StagedApplyFailed unless its
        heads are then exactly those the changes make."""
        staged = self._staged.pop(doc_id)
        doc = self._docs[doc_id][0]
        before = doc.get_heads()
        try:
            apply_chunks(doc, staged.chunks)
            after = set(doc.get_heads())
        except BaseException as exc:  # the binding may raise anything, even panics
            self._dirty.add(doc_id)
            if not automerge_failed(exc):
                raise
            raise StagedApplyFailed(f"{doc_id}: automerge refused a change: {type(exc).__name__}") \
                from None
        if after != set(before):
            self._dirty.add(doc_id)
        if after != staged.heads_after(before):
            raise StagedApplyFailed(f"{doc_id}: automerge did not take every change")

    def begin_staging(self) -> None:
        self.staging = True
        self._asked.clear()

    def apply_all_staged(self) -> None:
        """The batch ends: apply every document's staged changes (StagedApplyFailed if
        Automerge did not take them all; then `undo_staging`)."""
        for doc_id in list(self._staged):
            self._apply_staged(doc_id)
        self._end_staging()
        self._let_go()

    def undo_staging(self) -> None:
        """The batch is taken back: forget the documents that were given some of its changes,
        and what was read from them; the others are as they were before it (a snapshot of
        a document let go in the batch was stored in its savepoint, taken back with it)."""
        for doc_id, (upto, size) in self._before.items():
            if doc_id in self._dirty or doc_id not in self._docs:
                self.forget(doc_id)
                continue
            self._docs[doc_id] = (self._docs[doc_id][0], upto)
            self._cached_changes += size - self._sizes.get(doc_id, 0)
            self._sizes[doc_id] = size
        self._forget_reads()
        self._end_staging()

    def _end_staging(self) -> None:
        self.staging = False
        self._staged.clear()
        self._asked.clear()
        self._before.clear()
        self._dirty.clear()

    def mark_stored(self, doc_id: str, seqno: int, ledger_change: bytes | None = None,
                    deps: Sequence[bytes] = (), writes_devices: bool = False) -> None:
        """A change already in the cached document has been stored at `seqno`. A ledger change
        comes with its hash, dependencies and whether it writes on `devices`: which earlier
        state of `devices` it shares is remembered, so that a device entry (certificate and
        revocation) read once serves every change written on top of it. A merge whose
        branches all share one state shares it too: the changes since that state on each
        branch wrote nothing on `devices`, so the merged history holds the same writes on it
        as the state's own. (Noted here, not by a method of its own: a call less a change.)"""
        docs, sizes = self._docs, self._sizes
        docs[doc_id] = (docs[doc_id][0], seqno)
        sizes[doc_id] = sizes.get(doc_id, 0) + 1
        self._cached_changes += 1
        if ledger_change is not None:
            states = self._devices_state
            if len(states) >= MAX_REMEMBERED:
                make_room(states, MAX_REMEMBERED)
            same = None
            if deps and not writes_devices:
                same = states.get(deps[0])  # _state_of, its one-head case inlined
                if same is not None and len(deps) > 1:
                    same = self._state_of(deps)
            states[ledger_change] = ledger_change if same is None else same

    def forget(self, doc_id: str) -> None:
        self._docs.pop(doc_id, None)
        self._staged.pop(doc_id, None)
        self._cached_changes -= self._sizes.pop(doc_id, 0)
        self._read_at.pop(doc_id, None)
        self._caught_up.pop(doc_id, None)

    def forget_all(self, doc_ids: Iterable[str]) -> None:
        for doc_id in doc_ids:
            self.forget(doc_id)

    def save_snapshots(self) -> None:
        """Snapshot every cached document whose snapshot is due (daemon/store/snapshots.py),
        after storing those taken on reads that let documents go.

        Called off the hot path, never per change or per batch: when the daemon is idle
        (tend) and when a process closes its node. Stops early if another process holds
        the store (snapshots are only a cache)."""
        snapshots = self.snapshots
        if not snapshots.store_taken():
            return
        for doc_id in list(self._docs):
            doc, upto = self._docs[doc_id]
            if doc_id not in self._staged and snapshots.due(doc_id) \
                    and not (snapshots.take(doc_id, upto, doc) and snapshots.store_taken()):
                return

    def tend(self) -> None:
        """What an idle daemon does: save the snapshots due, then let go of every cached
        document, so that its memory does not keep what it once loaded; the next access
        loads from the snapshot. The store's WAL is checkpointed then, off the hot path."""
        self.store.forget_remembered()
        self.save_snapshots()
        if not self._docs:
            self.store.checkpoint()
            return
        self.forget_everything()
        self.store.checkpoint()
        release_free_memory()

    def forget_everything(self) -> None:
        self._docs.clear()
        self._sizes.clear()
        self._cached_changes = 0
        self._read_at.clear()
        self._caught_up.clear()
        self._forget_reads()
        self._end_staging()

    def _forget_reads(self) -> None:
        """What was read from documents, which may have held changes no longer stored."""
        self._paths.clear()
        self._profiles.clear()
        self._charters.clear()
        self._devices_state.clear()
        self._entries.clear()

    def _state_of(self, heads: Sequence[bytes]) -> bytes | None:
        """The state of `devices` that all of `heads` share, if known."""
        states = self._devices_state
        state = states.get(heads[0])
        if len(heads) == 1:
            return state
        return state if all(states.get(h) == state for h in heads[1:]) else None

    def profile(self, doc_id: str) -> Profile | None:
        """A ledger's profile, read from its genesis alone, without loading its records: only
        the genesis writes the profile (rules L1 and W6) and a ledger has one genesis (W8)."""
        if doc_id in self._profiles:
            return self._profiles[doc_id]
        genesis = self.store.first_change(doc_id)
        envelope = None if genesis is None else self.store.envelope(genesis)
        if envelope is None:
            return None  # not held yet: asked again later
        doc = Document()
        apply_chunks(doc, [envelope.change])
        found = self._profiles[doc_id] = read_profile(doc)
        return found

    def charter(self, charter_id: str) -> Record | None:
        """A charter held here as the view reads it (federation/confed.py charter_record; None if
        not held, or not a valid charter), read once: a charter is its one change and never
        changes (charter.md), so a write naming a confederation does not read it again."""
        if charter_id not in self._charters:
            doc_id = charter_doc_id(bytes.fromhex(charter_id)) if CHARTER_ID_RE.match(charter_id) else None
            if doc_id is None or not self.store.holds_document(doc_id):
                return None
            found = charter_record(charter_id, self.get(doc_id))
            if found is None:
                return None
            self._charters[charter_id] = found
        return self._charters[charter_id]

    # --- authority records (federation.verify.AuthorityRecords) ------------------------

    def device_entry(self, assembly: bytes, device: bytes, heads: Sequence[bytes] | None) -> Plain:
        key = None
        if heads:  # asked for every change: _state_of's one-head case inlined, one key made,
            state = self._devices_state.get(heads[0])  # looked up once if read
            if state is not None and len(heads) > 1:
                state = self._state_of(heads)
            if state is not None:
                key = (state, device)
                entry = self._entries.get(key)
                if entry is not None or key in self._entries:
                    return entry
        elif heads is not None:
            return None
        doc = self.get(ledger_id(assembly))
        entry = read_entry(doc, "devices", key_text(device), list(heads) if heads else None)
        if key is not None:
            make_room(self._entries, MAX_REMEMBERED)
            self._entries[key] = entry
        return entry

    # --- held objects (federation.writerules.HeldObjects) ---------------------------------

    def object_path(self, doc_id: str, obj: OpId) -> Path | None:
        key = (doc_id, obj)
        path = self._paths.get(key)
        if path is None:
            path = resolve_path(doc_id, obj, self.store.chunk_with_op)
            if path is None:
                return None  # not held yet, or not a map: asked again later, never cached
            self._paths[key] = path
        return path

    def has_entry(self, doc_id: str, path: Path, key: str, heads: Sequence[bytes]) -> bool:
        """Read now first: nothing is ever deleted, so a key absent now was absent at any
        earlier heads, and the costlier read at `heads` is needed only when it exists.
        While staging, a key absent from the document without its staged changes is absent
        at `heads` too unless a staged change may have written it (daemon/store/staging.py)."""
        if self.staging:
            asked = self._asked.get(doc_id)
            if asked is None:
                asked = self._asked[doc_id] = set()
            whole = (*path, key)
            staged = self._staged.get(doc_id)
            absent = staged is not None and not staged.first
            if absent:  # unless a staged change may have written it: a path asked about since
                # the batch began is the key's or a map's above it (staging.py). A loop inlined:
                # asked about nearly every change, and a generator given to any() cost twice
                # as much (measured)
                if whole in asked or path in asked:
                    absent = False
                elif len(path) > 1:  # most paths are one map and a key: no loop made for them
                    for end in range(1, len(path)):
                        if path[:end] in asked:
                            absent = False
                            break
            asked.add(whole)
            if absent:  # _staged_entry, inlined: asked about nearly every change
                assert staged is not None
                doc = self._docs[doc_id][0]
                obj = staged.objects.get(path)
                if obj is None:
                    obj = _object(doc, path, None)
                    if obj is None:
                        return False
                    staged.objects[path] = obj
                if doc.get(obj, key, None) is None:
                    return False
        doc = self.get(doc_id)
        return _entry(doc, path, key, None) and _entry(doc, path, key, list(heads))

    def first_change(self, doc_id: str) -> bytes | None:
        return self.store.first_change(doc_id)

    def mandate_entry(self, assembly: bytes, mandate: str) -> Plain:
        return read_entry(self.get(ledger_id(assembly)), "mandates", mandate)


def _entry(doc: Document, path: Path, key: str, heads: list[bytes] | None) -> bool:
    obj = _object(doc, path, heads)
    return obj is not None and doc.get(obj, key, heads) is not None


def _object(doc: Document, path: Path, heads: list[bytes] | None) -> bytes | None:
    """The id of the object at `path` as of `heads` (None: now), if it exists."""
    obj = ROOT
    for segment in path:
        found = doc.get(obj, segment, heads)
        if found is None:
            return None
        obj = found[1]
    return obj
