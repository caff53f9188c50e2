"""The index of ledger records (daemon/store/ledgerindex.py) reads exactly what the whole
ledger reads: the same decisions and mandates with the same outcomes, supersessions,
reopenings, recalls and rotation flags, the same void records, whatever order the changes
arrived in; a page of the newest, or one record by id, is the tail of the full listing, or
its row; and an index rebuilt from the document (a store made before the index) holds the
same rows as the one kept up to date at ingest."""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from automerge.core import Transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.daemon.services.economy import Economy
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.daemon.services.listing import (
    Listing,
    bylaws_row,
    decision_listing,
    decision_rows,
    device_rows,
    indexed_bylaws_row,
    mandate_listing,
    mandate_rows,
)
from pnyx.daemon.services.records import Recorder
from pnyx.daemon.services.reopening import reopen, revote
from pnyx.daemon.store import ledgerindex
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.ledgerindex import BY_ID, CHUNK, KINDS, NEWEST, LedgerIndex, id_hash
from pnyx.daemon.store.sqlite import Store
from pnyx.daemon.store.viewindex import (
    ViewIndex,
    document_records,
    indexed_ledger_records,
    indexed_log_records,
    scratch_view,
)
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import Act, ActKind, ProposalBody, ProposalKind, ledger_records
from pnyx.federation.docids import parse_doc_id
from pnyx.federation.envelope import Envelope
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import (
    Binding,
    Decision,
    Instruction,
    Mandate,
    Position,
    Tally,
    read_devices,
    read_ledger,
    write_decision,
    write_mandate,
)
from pnyx.federation.reopening import REOPENING

from .ledgerkit import (
    author_on,
    found_assembly,
    fresh_store,
    index_rows,
    lazily_indexed,
    memory_node,
    new_key,
    vote,
)

TODAY = dt.date(2026, 12, 31)
PLAN = (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),)


def on(day: int) -> dt.date:
    return dt.date(2026, 11, day)


def hand_made(author: Any, decision: Decision, mandate: Mandate | None = None) -> Envelope:
    """A decision (and the mandate it issues) written by hand, as another daemon might: the
    writer's checks (rotation, reopening conditions) are not the reader's."""
    def edit(tx: Transaction) -> None:
        write_decision(tx, decision)
        if mandate is not None:
            write_mandate(tx, mandate)
    envelope: Envelope = author.sign(author.change(edit))
    return envelope


def decision(record_id: str, title: str, day: int, tally: tuple[int, int, int], kind: str = "decision",
             subject: str | None = None, **fields: Any) -> Decision:
    return Decision(record_id, title, "", on(day), Tally(*tally), None, "", None, kind, subject, **fields)


@functools.cache
def story() -> tuple[str, tuple[Envelope, ...]]:
    """One ledger with every kind of record the listings judge, and void ones."""
    assembly = found_assembly()
    b = assembly.add_device("b")
    c = assembly.add_device("c")
    home = Recorder(assembly.home, today=lambda: TODAY)
    home.adopt_bylaws({"quorum": 5, "members": 30, "reopening": {"share": "1/3", "dissent_days": 10},
                       "rotation": {"consecutive_terms": 1}}, vote("Bylaws", day=1, tally=(20, 1, 0)))
    plain = [home.decide(vote(f"Decision {n}", day=2 + n % 4, tally=tally))
             for n, tally in enumerate([(10, 2, 1), (3, 9, 0), (2, 1, 0), (8, 6, 0), (6, 6, 1)])]
    home.decide(vote("Replaces decision 1", day=7, supersedes=plain[1]))
    reopening = reopen(home, plain[3], "dissent", 6, on(8), "we dissent")
    revote(home, reopening, vote("Decision 3 again", day=9, tally=(4, 11, 0)))
    ana = home.issue_mandate(vote("Send Ana", day=2), "Ana", None, "Water council", on(2), on(10), PLAN)
    home.issue_mandate(vote("Send Bo", day=3, tally=(1, 9, 0)), "Bo", None, "Water council", on(3),
                       on(20), PLAN)
    home.recall_mandate(ana, vote("Recall Ana?", day=4, tally=(2, 12, 0)))
    recall = home.recall_mandate(ana, vote("Recall Ana", day=5, tally=(14, 2, 0)))
    delegate_key = new_key()
    eve = home.issue_mandate(vote("Send Eve", day=3), "Eve", key_text(delegate_key.public), "Roads",
                             on(3), on(28), PLAN)
    delegate = memory_node(assembly.key.public, delegate_key)
    delegate.ingestor.ingest(assembly.envelopes())
    Recorder(delegate, today=lambda: TODAY).delegate_act(
        eve, Act("actactactactacta", ActKind.REPORT, on(4), None, None, None, "The council met"))
    assembly.home.ingestor.ingest([s.envelope for s in delegate.store.envelopes()])
    home.recall_mandate(eve, vote("Recall Eve", day=5, tally=(14, 2, 0)))
    bylaws_too = home.adopt_bylaws({"rule": "2/3"}, vote("Two thirds", day=6, tally=(25, 2, 0)))
    home.decide(vote("Under two thirds", day=12, tally=(10, 6, 0)))
    charter = home.found_confederation(new_charter(dt.date(2026, 1, 1), [key_text(assembly.key.public)],
                                                   [], Rules("Valley", "simple", "2/3", "1/2", 30, ())))
    home.accept_charter(charter, vote("Join the valley", day=2, tally=(20, 1, 0)))
    home.propose(ProposalBody(charter, ProposalKind.POLICY, None, None),
                 vote("Share the wells", day=3, tally=(20, 2, 0)), ratify=True)
    Economy(home).record("needs", {"confederation": charter, "item": "flour", "quantity": 40,
                                   "unit": "kg", "by": "2026-12-20"})
    honest = author_on(c, c.device_key, nonce=7)
    c.ingestor.ingest(assembly.envelopes())
    made = [
        hand_made(honest, decision("reopenignoredaaa", "Too few ask", 13, (1, 0, 0), REOPENING,
                                   plain[0], reopening={"by": "share"})),
        hand_made(honest, decision("sendanaagainaaaa", "Send Ana again", 11, (20, 1, 0), "mandate",
                                   "anaagainmandatea"),
                  Mandate("anaagainmandatea", "Ana", None, "Water council", on(11), on(30), PLAN,
                          "sendanaagainaaaa", None)),
        hand_made(honest, Decision("supersedesbylaws", "Replaces the two thirds", "", on(14),
                                   Tally(9, 1, 0), None, "", bylaws_too, "decision", None)),
        hand_made(honest, Decision("undoestherecalla", "Replaces the recall", "", on(6),
                                   Tally(9, 1, 0), None, "", recall, "decision", None)),
    ]
    for node, nonce, title in ((assembly.home, 9, "Twin A"), (c, 10, "Twin B")):  # concurrent, one id
        made.append(hand_made(author_on(node, node.device_key, nonce=nonce),
                              decision("twinrecordaaaaaa", title, 16, (5, 1, 0))))
    inside = author_on(b, b.device_key, nonce=1).decide("inside the cut")
    assembly.home.ingestor.ingest([inside])
    void_author = author_on(b, b.device_key, nonce=2)
    outside = void_author.decide("outside the cut")
    void_mandate = hand_made(void_author, decision("voidissueaaaaaaa", "Send Cy", 3, (9, 0, 0),
                                                   "mandate", "cymandateaaaaaaa"),
                             Mandate("cymandateaaaaaaa", "Cy", None, "Water council", on(3), on(9),
                                     PLAN, "voidissueaaaaaaa", None))
    c.ingestor.ingest([inside, outside, void_mandate])  # c saw b's changes before the revocation
    orphan = author_on(c, c.device_key, nonce=8)
    made.append(hand_made(orphan, decision("honestonvoidaaaa", "Built on a void change", 15, (7, 1, 0)),
                          Mandate("issuedbyvoidaaaa", "Di", None, "Water council", on(3), on(9), PLAN,
                                  "voidissueaaaaaaa", None)))
    home.revoke_device(b.device_key.public)
    stored = {s.envelope.change: s.envelope for node in (assembly.home, c)
              for s in node.store.envelopes()}
    return assembly.doc_id, (*stored.values(), *made, inside, outside, void_mandate)


def full_reads(store: Store, doc_id: str) -> dict[str, Any]:
    """What the whole ledger document reads: every row, and the void records."""
    doc = DocumentCache(store).get(doc_id)
    ledger = read_ledger(doc)
    assembly = parse_doc_id(doc_id).assembly
    assert assembly is not None
    return {"decisions": decision_rows(ledger), "mandates": mandate_rows(ledger),
            "bylaws": bylaws_row(ledger, TODAY), "void": ledger.void,
            "devices": to_jsonable(list(read_devices(doc).values())),
            "view records": ledger_records(assembly, doc), "view": scratch_view(store, TODAY),
            "logs": {d: document_records(d, DocumentCache(store).get) for d in store.documents()
                     if d.startswith("mandate/")}}


def indexed_reads(store: Store, doc_id: str) -> dict[str, Any]:
    index, profile = LedgerIndex(store, DocumentCache(store)), DocumentCache(store).profile(doc_id)
    decisions = decision_listing(index, doc_id, profile)
    mandates = mandate_listing(index, doc_id, profile)
    assert decisions.total == len(decisions.rows) and mandates.total == len(mandates.rows)
    assert decisions.void == mandates.void
    return {"decisions": decisions.rows, "mandates": mandates.rows,
            "bylaws": indexed_bylaws_row(index, doc_id, profile, TODAY), "void": decisions.void,
            "devices": device_rows(index, doc_id),
            "view records": indexed_ledger_records(index, doc_id, profile),
            "view": ViewIndex(store, DocumentCache(store)).render(TODAY),
            "logs": {d: indexed_log_records(index, d, profile, DocumentCache(store).get)
                     for d in store.documents() if d.startswith("mandate/")}}


def assert_pages_are_the_full_listing(store: Store, doc_id: str, full: dict[str, Any]) -> None:
    index, profile = LedgerIndex(store, DocumentCache(store)), DocumentCache(store).profile(doc_id)
    for what, lister in (("decisions", decision_listing), ("mandates", mandate_listing)):
        rows = full[what]
        for limit in (1, 2, 3, 5, 8, len(rows) + 1):
            page: Listing = lister(index, doc_id, profile, limit)
            assert page.rows == rows[-limit:], (what, limit)
            assert page.total == len(rows)
        for row in rows:
            assert lister(index, doc_id, profile, ids=[row["id"]]).rows == [row]
        assert lister(index, doc_id, profile, ids=["unknownrecordaaa"]).rows == []


def test_the_story_has_what_the_listings_judge() -> None:
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    full = full_reads(store, doc_id)
    rows = {r["title"]: r for r in full["decisions"]}
    assert rows["Decision 1"]["superseded"] and rows["Decision 3"]["reopened_by"]
    assert rows["Decision 3"]["revote"] and rows["Too few ask"]["ignored"]
    assert {r["outcome"] for r in full["decisions"]} == {"adopted", "rejected", "no-quorum"}
    assert rows["Under two thirds"]["outcome"] == "rejected"  # judged by the later bylaws
    assert rows["Built on a void change"]["outcome"] == "adopted"
    assert len({"Twin A", "Twin B"} & set(rows)) == 1  # Automerge shows one of the two
    mandates = {r["delegate"]: r for r in full["mandates"]}
    first, again = [r for r in full["mandates"] if r["delegate"] == "Ana"]
    assert again["rotation"] and not first["rotation"]
    assert first["recalled_by"] is None  # its adopted recall was superseded
    assert mandates["Bo"]["outcome"] == "rejected"
    assert mandates["Di"]["issued"] is None  # its issuing decision is void
    assert len(full["void"]) == 3 and "cymandateaaaaaaa" in full["void"]
    assert len(full["devices"]) == 3
    assert [d["revoked_cut"] is not None for d in full["devices"]].count(True) == 1
    records = full["view records"]
    assert records["proposals"] and records["ratifications"] and records["acceptances"]
    assert records["economy"]["needs"] and len(records["mandates"]) == 4  # not Di: no issuing decision
    (log,) = full["logs"].values()
    assert log["acts"]["actactactactacta"]["saw_recall"] is False
    assert indexed_reads(store, doc_id) == full
    assert_pages_are_the_full_listing(store, doc_id, full)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_in_any_arrival_order_the_index_reads_what_the_ledger_reads(data: st.DataObject) -> None:
    doc_id, envelopes = story()
    order = data.draw(st.permutations(range(len(envelopes))), label="order")
    cut = data.draw(st.integers(1, len(envelopes)), label="held")
    store, _, ingestor = fresh_store()
    for i in order[:cut]:
        ingestor.ingest([envelopes[i]])
    if not store.holds_document(doc_id):
        return
    full = full_reads(store, doc_id)
    assert indexed_reads(store, doc_id) == full
    kept = index_rows(store.db)
    assert lazily_indexed([envelopes[i] for i in order[:cut]]) == kept
    LedgerIndex(store, DocumentCache(store)).rebuild(doc_id)
    assert index_rows(store.db) == kept


def test_the_index_kept_at_ingest_holds_what_the_stored_changes_alone_make() -> None:
    """Ingest hands the index each change's operations as the write rules decoded them; a
    change stored without the hook is decoded again from the store. Both make the same rows,
    batch by batch as one by one."""
    _, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    kept = index_rows(store.db)
    assert any(row[1] == "mandates" for row in kept) and any(row[-1] for row in kept[:-1])
    assert lazily_indexed(list(envelopes)) == kept


def test_the_records_the_view_reads_are_found_without_reading_the_plain_decisions() -> None:
    """A ratification's check and each view refresh read a ledger's records of other kinds
    than plain decisions: by the partial index of kinds, never by an index that holds every
    record of the ledger (SQLite's planner took the index by actor, 61 ms at 100k records)."""
    _, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    plan = store.db.execute(f"EXPLAIN QUERY PLAN {KINDS}", (1,)).fetchall()
    assert [step[-1] for step in plan] == [
        "SEARCH ledger_entries USING INDEX ledger_entries_by_kind (ledger=?)"]


def test_a_store_made_before_the_index_is_indexed_when_first_read() -> None:
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    kept = index_rows(store.db)
    for table in ("ledger_entries", "ledger_entry_writers", "ledger_numbers", "ledger_devices",
                  "ledger_indexed",
                  "ledger_index_state"):
        store.db.execute(f"DROP TABLE {table}")
    full = full_reads(store, doc_id)
    assert indexed_reads(store, doc_id) == full
    assert index_rows(store.db) == kept
    assert_pages_are_the_full_listing(store, doc_id, full)


def test_a_store_indexed_in_the_v2_tables_drops_them_and_is_indexed_again_when_read() -> None:
    """v2 kept each row under the ledger's id, in tables v3 no longer reads: they are dropped
    when the store is opened, and the ledger indexed again from its document."""
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    kept = index_rows(store.db)
    for table in ("ledger_entries", "ledger_entry_writers", "ledger_numbers"):
        store.db.execute(f"DROP TABLE {table}")
    store.db.execute("CREATE TABLE ledger_records (doc TEXT, collection TEXT, id TEXT)")
    store.db.execute("CREATE TABLE ledger_writers (doc TEXT, writer TEXT, id TEXT)")
    store.db.execute("INSERT INTO ledger_records VALUES (?, 'decisions', 'stale')", (doc_id,))
    store.db.execute("UPDATE ledger_indexed SET format = 'ledger-records/v2'")
    full = full_reads(store, doc_id)
    assert indexed_reads(store, doc_id) == full
    assert not store.db.execute("SELECT name FROM sqlite_master WHERE name IN"
                                " ('ledger_records', 'ledger_writers')").fetchall()
    assert index_rows(store.db) == kept


# The table of records as stores made before ID_HASH have it: keyed by id, and indexed by
# day, every record (written out: it is the old layout, not derived from the current one).
OLDER_ENTRIES = """
CREATE TABLE ledger_entries (
    ledger INTEGER NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL, actor BLOB NOT NULL,
    counter INTEGER NOT NULL, entry BLOB, day TEXT NOT NULL, kind TEXT, subject TEXT,
    supersedes TEXT, revote_of TEXT, decision TEXT, person TEXT, council TEXT, void TEXT,
    PRIMARY KEY (ledger, collection, id)
)"""
OLDER_BY_DAY = "CREATE INDEX ledger_entries_by_day ON ledger_entries (ledger, collection, day, id)"


def test_a_store_whose_records_were_keyed_by_id_is_copied_once_into_rows_found_by_id_hashes(
        tmp_path: Path) -> None:
    """Stores made before kept each record's row under its id, and an index by day of every
    record (malformed ones under one empty day), so each commit rewrote pages all over both;
    opened again, such a store's rows are copied once into the table found by id hashes, the
    same rows the index keeps at ingest, and read alike, by the new indexes."""
    doc_id, envelopes = story()
    store = Store(tmp_path / "pnyx.sqlite")
    Ingestor(store, DocumentCache(store)).ingest(envelopes)
    kept, full = index_rows(store.db), full_reads(store, doc_id)
    with store.transaction():
        store.db.execute("ALTER TABLE ledger_entries RENAME TO current_entries")
        store.db.execute(OLDER_ENTRIES)
        store.db.execute("INSERT INTO ledger_entries SELECT ledger, collection, id, actor, counter, entry,"
                         " day, kind, subject, supersedes, revote_of, decision, person, council, void"
                         " FROM current_entries")
        store.db.execute("DROP TABLE current_entries")
        store.db.execute(OLDER_BY_DAY)
    store.close()
    store = Store(tmp_path / "pnyx.sqlite")
    index = LedgerIndex(store, DocumentCache(store))
    assert not store.db.execute("SELECT name FROM sqlite_master WHERE name IN"
                                " ('ledger_entries_by_day', 'sqlite_autoindex_ledger_entries_1')").fetchall()
    assert index_rows(store.db) == kept
    assert indexed_reads(store, doc_id) == full
    ledger, some = index._known_number(doc_id), next(iter(index.records(doc_id, "decisions")))
    plans = {query: [step[-1] for step in store.db.execute(f"EXPLAIN QUERY PLAN {query}", args)]
             for query, args in ((NEWEST, (ledger, "decisions", 1)),
                                 (f"SELECT id FROM ledger_entries WHERE {BY_ID}",
                                  (ledger, id_hash(some), "decisions", some)))}
    assert list(plans.values()) == [
        ["SEARCH ledger_entries USING INDEX ledger_entries_by_date (ledger=? AND collection=?)"],
        ["SEARCH ledger_entries USING INDEX ledger_entries_by_id (ledger=? AND id_hash=?)"]]


def test_an_index_of_another_format_is_rebuilt_and_not_extended_meanwhile() -> None:
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes[:10])
    store.db.execute("UPDATE ledger_indexed SET format = 'ledger-records/v0'")
    ingestor.ingest(envelopes[10:])
    assert indexed_reads(store, doc_id) == full_reads(store, doc_id)


def test_of_two_concurrent_creations_of_one_id_the_index_keeps_the_one_automerge_shows() -> None:
    doc_id, envelopes = story()
    twins = [e for e in envelopes if b"twinrecordaaaaaa" in e.change]
    assert len(twins) == 2
    for arrival in (twins, twins[::-1]):
        store, _, ingestor = fresh_store()
        ingestor.ingest([e for e in envelopes if e not in twins])
        for twin in arrival:
            ingestor.ingest([twin])
        assert indexed_reads(store, doc_id) == full_reads(store, doc_id)
        kept = index_rows(store.db)  # the winner's op too, which judges whether it is void
        LedgerIndex(store, DocumentCache(store)).rebuild(doc_id)
        assert index_rows(store.db) == kept


def test_records_whose_ids_share_one_hash_are_each_read_as_the_ledger_reads_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are found by a hash of their ids, and every query compares the id too: were every
    id to share one hash, each record, concurrent twins included, would still be read as the
    ledger reads it, and stored as with hashes apart."""
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    apart = [row[:-1] for row in index_rows(store.db)]
    monkeypatch.setattr(ledgerindex, "id_hash", lambda key: 7)
    store, _, ingestor = fresh_store()
    for envelope in envelopes:  # the twins one by one: the second is found held, not in its chunk
        ingestor.ingest([envelope])
    assert indexed_reads(store, doc_id) == full_reads(store, doc_id)
    assert {row[-1] for row in store.db.execute("SELECT id_hash FROM ledger_entries")} == {7}
    assert [row[:-1] for row in index_rows(store.db)] == apart


def test_records_inserted_a_chunk_a_statement_keep_of_concurrent_twins_the_one_automerge_shows() -> None:
    """A batch's records are inserted CHUNK rows a statement; a chunk holding an id already
    held, by an earlier chunk or within itself, is inserted a row at a time: the same rows and
    counts as the document reads, whichever twin comes first."""
    assembly = found_assembly()
    c = assembly.add_device("c")
    filler_author = author_on(assembly.home, assembly.home.device_key, nonce=3)
    filler = [filler_author.decide(f"Filler {n}") for n in range(2 * CHUNK)]
    a, b = (hand_made(author_on(node, node.device_key, nonce=nonce),
                      decision("twinrecordaaaaaa", title, 16, (5, 1, 0)))
            for node, nonce, title in ((assembly.home, 9, "Twin A"), (c, 10, "Twin B")))
    one_chunk = [*filler[:10], a, b, *filler[10:]]
    two_chunks = [[*filler[:10], first, *filler[10:CHUNK + 10], then, *filler[CHUNK + 10:]]
                  for first, then in ((a, b), (b, a))]
    for arrival in (one_chunk, *two_chunks):
        store, _, ingestor = fresh_store()
        ingestor.ingest(assembly.envelopes())
        report = ingestor.ingest(arrival)  # one batch: one transaction, one catch_up
        assert report.accepted == len(arrival)
        full = full_reads(store, assembly.doc_id)
        assert len(full["decisions"]) == 2 * CHUNK + 1
        assert indexed_reads(store, assembly.doc_id) == full
        kept = index_rows(store.db)
        LedgerIndex(store, DocumentCache(store)).rebuild(assembly.doc_id)
        assert index_rows(store.db) == kept


def test_a_row_refused_halfway_through_a_chunk_takes_back_the_whole_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are inserted CHUNK a statement OR FAIL, which leaves the rows before a refused one
    in place (no statement journal to take them back): the store rolls the transaction back,
    so none of the batch is held, neither its changes nor their rows, and it comes in whole
    when offered again."""
    assembly = found_assembly()
    author = author_on(assembly.home, assembly.home.device_key, nonce=3)
    batch = [author.decide(f"Filler {n}") for n in range(2 * CHUNK)]
    store, _, ingestor = fresh_store()
    ingestor.ingest(assembly.envelopes())
    held, rows = store.count_changes(), index_rows(store.db)

    shaped = ledgerindex.shaped

    def one_refused(*args: Any) -> Any:
        made = shaped(*args)
        bound = next(iter(made.values()))
        bound[CHUNK // 2] = (None, *bound[CHUNK // 2][1:])  # an id NULL: NOT NULL refuses it
        return made

    with monkeypatch.context() as patched:
        patched.setattr(ledgerindex, "shaped", one_refused)
        with pytest.raises(sqlite3.IntegrityError):
            ingestor.ingest(batch)
    assert (store.count_changes(), index_rows(store.db)) == (held, rows)
    assert ingestor.ingest(batch).accepted == len(batch)
    assert indexed_reads(store, assembly.doc_id) == full_reads(store, assembly.doc_id)


def test_changes_stored_where_the_index_is_not_kept_are_caught_up_when_read() -> None:
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes[:20])
    store.commit_hooks.clear()  # as a process storing changes without the index would
    ingestor.ingest(envelopes[20:])
    assert indexed_reads(store, doc_id) == full_reads(store, doc_id)


def test_mandates_are_dated_only_in_a_ledger_holding_any_and_then_as_when_ingested_whole() -> None:
    """A batch of a ledger holding no mandate looks for none its decisions issue (LedgerIndex.
    _any_mandate): ingested a change a batch, the story's decisions before its first mandate
    date nothing, and every mandate is dated by its issuing decision all the same (among them
    one issued with its decision in one change): the rows of the story ingested whole."""
    doc_id, envelopes = story()
    store, _, ingestor = fresh_store()
    ingestor.ingest(envelopes)
    whole = index_rows(store.db)
    store, _, ingestor = fresh_store()
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    for envelope in envelopes:
        ingestor.ingest([envelope])
    dating = [at for at, sql in enumerate(statements) if "json_each" in sql]
    first_mandate = next(at for at, sql in enumerate(statements)
                         if sql.startswith("INSERT OR FAIL INTO ledger_entries") and "'mandates'" in sql)
    assert dating and min(dating) > first_mandate
    assert index_rows(store.db) == whole
    assert indexed_reads(store, doc_id) == full_reads(store, doc_id)
    days = dict(store.db.execute("SELECT id, day FROM ledger_entries WHERE collection = 'mandates'"))
    assert days["anaagainmandatea"] == on(11).isoformat()
