"""Reads of a ledger load only what they need: its devices (for `pnyx show devices`, GET
/ledger, GET /devices and the page), the mandates and recalls the page's Delegates view
shows, and what the acts of a recalled mandate's log saw of the recall, come from the index
kept in SQLite beside the changes, never from the ledger's whole document (seconds to load at
100k records). Each test records which documents are loaded while the read answers, and
compares the answer with the one read from the whole document."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from automerge.core import Document
from pnyx.daemon.cli.main import main
from pnyx.daemon.http.server import make_app
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.daemon.services.listing import mandate_rows
from pnyx.daemon.services.records import Recorder, new_record_id
from pnyx.daemon.store import ancestry
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.node import Node, open_node
from pnyx.daemon.store.viewindex import indexed_log_records
from pnyx.federation.confed import Act, ActKind, mandate_log_records, write_act
from pnyx.federation.docids import mandate_doc_id
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import read_devices, read_ledger, write_device

from .ledgerkit import (
    Assembly,
    Author,
    author_on,
    found_assembly,
    founded,
    index_rows,
    memory_node,
    new_key,
    vote,
)
from .test_write_index import WAYS, Freshen

LEDGER = "ledger/"


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids of the documents loaded through any DocumentCache while the test runs."""
    found: list[str] = []
    get = DocumentCache.get

    def recording(self: DocumentCache, doc_id: str) -> Document:
        found.append(doc_id)
        return get(self, doc_id)

    monkeypatch.setattr(DocumentCache, "get", recording)
    yield found


def whole(data: Path) -> dict[str, Any]:
    """The devices and mandates as the whole ledger document reads them."""
    node = open_node(data)
    try:
        ledger = read_ledger(node.docs.get(node.ledger_id))
        return {"devices": to_jsonable(list(read_devices(node.docs.get(node.ledger_id)).values())),
                "mandates": mandate_rows(ledger)}
    finally:
        node.close()


def a_long_ledger(data: Path) -> dict[str, str]:
    """A ledger with devices certified and one revoked, a mandate then recalled, and enough
    mandates and decisions after them that a page of the newest two shows neither."""
    with founded(data, "Norte") as recorder:
        laptop, phone = new_key().public, new_key().public
        recorder.add_device(laptop, "laptop")
        recorder.add_device(phone, "phone")
        recorder.revoke_device(phone)
        ana = recorder.issue_mandate(vote("Send Ana", 2), "Ana", None, "Water council",
                                     dt.date(2026, 11, 2), dt.date(2026, 12, 31), ())
        recall = recorder.recall_mandate(ana, vote("Recall Ana", 3))
        for name in ("Bo", "Cy", "Di"):
            recorder.issue_mandate(vote(f"Send {name}", 10), name, None, "Roads council",
                                   dt.date(2026, 11, 10), dt.date(2026, 12, 31), ())
        for n in range(8):
            recorder.decide(vote(f"Later {n}", 20))
        return {"mandate": ana, "recall": recall, "phone": key_text(phone)}


async def answers(node: Node, paths: list[str]) -> list[Any]:
    """The local API's answers, over HTTP from a server in this process."""
    async with TestClient(TestServer(make_app(node))) as client:
        out = []
        for path in paths:
            response = await client.get("/api/v1" + path)
            assert response.status == 200, (path, await response.text())
            out.append(await response.json())
        return out


def test_the_api_lists_devices_and_delegates_without_loading_the_ledger(
        tmp_path: Path, loaded: list[str]) -> None:
    data = tmp_path / "node"
    made = a_long_ledger(data)
    expected = whole(data)
    node = open_node(data)
    try:
        loaded.clear()
        ledger, devices, device = asyncio.run(answers(node, [
            "/ledger?limit=2", "/devices", f"/devices/{made['phone']}"]))
    finally:
        node.close()
    assert not [d for d in loaded if d.startswith(LEDGER)], loaded
    assert ledger["devices"] == devices == expected["devices"] and len(devices) == 3
    assert device["revoked_cut"] is not None
    assert device == next(d for d in devices if d["key"] == made["phone"])
    assert made["mandate"] not in [m["id"] for m in ledger["mandates"]]  # older than the page
    assert ledger["delegates"]["mandates"] == expected["mandates"]
    assert [r["id"] for r in ledger["delegates"]["recalls"]] == [made["recall"]]


def test_show_devices_does_not_load_the_ledger(tmp_path: Path, loaded: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "node"
    a_long_ledger(data)
    expected = whole(data)["devices"]
    capsys.readouterr()
    loaded.clear()
    assert main(["show", "devices", "--json", "--data", str(data)]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    assert not [d for d in loaded if d.startswith(LEDGER)], loaded


def report(day: int) -> Act:
    return Act(new_record_id(), ActKind.REPORT, dt.date(2026, 11, day), None, None, None, "Reported")


def a_delegate_who_acted() -> tuple[Assembly, Node, SigningKey, str, str]:
    """An assembly, its delegate Ana's node, her key, her mandate, and the act she wrote
    under it before any recall (so it did not see one)."""
    norte = found_assembly()
    ana_key = new_key()
    ana = memory_node(norte.key.public, ana_key)
    mandate = norte.recorder.issue_mandate(vote("Send Ana", 2), "Ana", key_text(ana_key.public),
                                           "Water council", dt.date(2026, 11, 2), dt.date(2026, 12, 31), ())
    ana.ingestor.ingest(norte.envelopes())
    return norte, ana, ana_key, mandate, Recorder(ana).delegate_act(None, report(3))


@WAYS
def test_which_acts_saw_an_adopted_recall_is_read_without_loading_the_ledger(
        arrive: Freshen, loaded: list[str]) -> None:
    norte, ana, ana_key, mandate, before = a_delegate_who_acted()
    log_id = mandate_doc_id(norte.key.public, mandate)
    unaware = Author(ana.docs.get(log_id), log_id, ana_key, nonce=2)  # its ledger stays as it was
    norte.home.ingestor.ingest([s.envelope for s in ana.store.envelopes()])
    ana_heads_before = ana.docs.get(ana.ledger_id).get_heads()
    norte.recorder.recall_mandate(mandate, vote("Recall Ana", 4))
    for n in range(5):
        norte.recorder.decide(vote(f"After the recall {n}", 5))
    ana.ingestor.ingest(norte.envelopes())
    aware = Author(ana.docs.get(log_id), log_id, ana_key, nonce=3)
    late, concurrent = report(6), report(6)
    acts = [aware.sign(aware.change(lambda tx: write_act(tx, late, ana.docs.get(ana.ledger_id).get_heads()))),
            unaware.sign(unaware.change(lambda tx: write_act(tx, concurrent, ana_heads_before)))]
    norte.home.ingestor.ingest(acts)
    reader = memory_node(norte.key.public, new_key())
    arrive(reader, norte)
    index = reader.ingestor.ledgers
    with index.reading(reader.ledger_id):
        pass  # a ledger indexed in an older format is indexed again, once, from its document
    reader.docs.forget_everything()
    loaded.clear()
    indexed = indexed_log_records(index, log_id, reader.docs.profile(reader.ledger_id), reader.docs.get)
    assert loaded == [log_id]
    assert indexed == mandate_log_records(norte.key.public, mandate, reader.docs.get(log_id),
                                          reader.docs.get(reader.ledger_id))
    saw = {act_id: act["saw_recall"] for act_id, act in indexed["acts"].items()}
    assert saw == {before: False, late.id: True, concurrent.id: False}


@WAYS
def test_a_recalled_logs_acts_share_one_walk_of_the_ledger_since_the_recall(
        arrive: Freshen, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read long after its recall, a log of many acts reads the ledger's changes stored since
    the recall once, not once per act; and reads as the whole documents do."""
    visited: list[bytes] = []
    stored_between = ancestry.stored_between

    def counted(*args: Any) -> Iterator[tuple[bytes, bytes]]:
        for row in stored_between(*args):
            visited.append(row[0])
            yield row

    monkeypatch.setattr(ancestry, "stored_between", counted)
    norte, ana, ana_key, mandate, before = a_delegate_who_acted()
    norte.home.ingestor.ingest(norte.envelopes(ana))
    norte.recorder.recall_mandate(mandate, vote("Recall Ana", 4))
    since = 12
    for n in range(since):
        norte.recorder.decide(vote(f"After the recall {n}", 5))
    ana.ingestor.ingest(norte.envelopes())
    log_id = mandate_doc_id(norte.key.public, mandate)
    aware = Author(ana.docs.get(log_id), log_id, ana_key, nonce=3)
    heads = ana.docs.get(ana.ledger_id).get_heads()
    counts: list[int] = []
    written = 0
    for acts in (3, 9):
        for _ in range(acts - written):
            norte.home.ingestor.ingest([aware.sign(aware.change(
                lambda tx: write_act(tx, report(6), heads)))])
        written = acts
        reader = memory_node(norte.key.public, new_key())
        arrive(reader, norte)
        index = reader.ingestor.ledgers
        with index.reading(reader.ledger_id):
            pass  # a ledger indexed in an older format is indexed again, once, from its document
        visited.clear()
        indexed = indexed_log_records(index, log_id, reader.docs.profile(reader.ledger_id), reader.docs.get)
        counts.append(len(visited))
        assert len(indexed["acts"]) == acts + 1
        assert {act_id for act_id, act in indexed["acts"].items() if not act["saw_recall"]} == {before}
        assert indexed == mandate_log_records(norte.key.public, mandate, reader.docs.get(log_id),
                                              reader.docs.get(reader.ledger_id))
    assert counts[0] == counts[1] <= since


def test_of_two_concurrent_certifications_of_one_device_the_index_lists_the_one_automerge_shows() -> None:
    """Two holders of the assembly key certify one device at once, under other labels, and the
    device is revoked afterwards (in the entry Automerge shows): in either order of arrival,
    the devices listed from the index are those the document reads, and an index rebuilt
    from the document holds the same rows."""
    norte = found_assembly()
    held = norte.envelopes()
    twin = new_key().public
    writers = [author_on(norte.home, norte.key, nonce=n) for n in (5, 6)]
    certifications = [w.sign(w.change(lambda tx, label=label: write_device(tx, norte.key, twin, label)))
                      for w, label in zip(writers, ("north door", "south door"), strict=True)]
    norte.home.ingestor.ingest(certifications)
    norte.recorder.revoke_device(twin)
    revocation = norte.envelopes()[-1]
    for arrival in (certifications, certifications[::-1]):
        node = memory_node(norte.key.public, new_key())
        node.ingestor.ingest(held)
        for envelope in [*arrival, revocation]:
            assert node.ingestor.ingest([envelope]).accepted == 1
        index, doc = node.ingestor.ledgers, node.docs.get(node.ledger_id)
        assert index.devices.devices(node.ledger_id) == read_devices(doc)
        assert read_devices(doc)[key_text(twin)].revoked_cut is not None
        kept = index_rows(node.store.db)
        index.rebuild(node.ledger_id)
        assert index_rows(node.store.db) == kept
