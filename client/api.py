"""A client of a pnyx daemon's local API, on the standard library alone.

    client = Client.for_data_dir(Path("data/default"))   # URL and token from the data dir
    decision = client.decide("Community kitchen", "2026-11-20", 80, 12, 5)
    for event in client.events(): ...                     # live, from GET /api/v1/events

Reads need no token; writes send `Authorization: Bearer TOKEN`. A 4xx or 5xx
answer raises ApiError with the status and the daemon's one-line message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlencode

from .sse import read_events
from .types import (
    Assembly,
    Bylaws,
    Confederation,
    Decision,
    Device,
    EconomyRecord,
    Event,
    Ledger,
    Mandate,
    Plan,
    Proposal,
    Status,
    View,
)

T = TypeVar("T")
PRESENCE_FILE = "daemon.json"
TOKEN_FILE = "api.token"
OCTETS = "application/octet-stream"
EVENTS_READ_TIMEOUT = 20.0  # the daemon sends a keep-alive every 15 s


class ApiError(Exception):
    """The daemon answered with an error status; `message` is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def for_data_dir(cls, data: Path, timeout: float = 30.0) -> Client:
        """A client of the daemon serving `data`, with the token from `data/api.token`."""
        try:
            url = json.loads((data / PRESENCE_FILE).read_text())["url"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ApiError(503, f"no daemon is serving {data}: start `pnyx run`") from None
        return cls(str(url), (data / TOKEN_FILE).read_text().strip(), timeout)

    # --- transport ------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                query: dict[str, str | None] | None = None, request_id: str | None = None) -> Any:
        """One call of the API; `path` is relative to /api/v1. The answer's JSON. A write with a
        `request_id` (Idempotency-Key) is recorded once however often it is sent."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if request_id is not None:
            headers["Idempotency-Key"] = request_id
        return json.loads(self.exchange(method, path, data, "application/json", query, headers))

    def exchange(self, method: str, path: str, data: bytes | None = None,
                 content_type: str = "application/json",
                 query: dict[str, str | None] | None = None,
                 headers: dict[str, str] | None = None) -> bytes:
        """One call of the API with a raw body (sent as `content_type`); the raw answer."""
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self._url(path, query), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, error_message(exc)) from None

    def _url(self, path: str, query: dict[str, str | None] | None = None) -> str:
        given = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{self.url}/api/v1{path}" + (f"?{urlencode(given)}" if given else "")

    def get(self, path: str, **query: str | None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: dict[str, Any], request_id: str | None = None) -> Any:
        return self.request("POST", path, body, request_id=request_id)

    # --- reads ----------------------------------------------------------------------

    def status(self) -> Status:
        return cast(Status, self.get("/status"))

    def assemblies(self) -> list[Assembly]:
        return cast(list[Assembly], self.get("/assemblies"))

    def ledger(self, assembly: str | None = None, limit: int | None = None) -> Ledger:
        """The whole ledger, or with only the newest `limit` decisions and mandates; its
        `delegates` hold every mandate and the decisions that recalled them either way."""
        return cast(Ledger, self.get("/ledger", assembly=assembly,
                                     limit=None if limit is None else str(limit)))

    def decisions(self, assembly: str | None = None, limit: int | None = None) -> list[Decision]:
        """Every decision by date, or the newest `limit`."""
        return cast(list[Decision], self.get("/decisions", assembly=assembly,
                                             limit=None if limit is None else str(limit)))

    def decision(self, decision_id: str, assembly: str | None = None) -> Decision:
        return cast(Decision, self.get(f"/decisions/{quote(decision_id, safe='')}", assembly=assembly))

    def bylaws(self, assembly: str | None = None, as_of: str | None = None) -> Bylaws:
        """The bylaws in force (today, or `as_of`) and every adopted change of them."""
        return cast(Bylaws, self.get("/bylaws", assembly=assembly, as_of=as_of))

    def mandates(self, assembly: str | None = None, limit: int | None = None) -> list[Mandate]:
        """Every mandate by the date of its issuing decision, or the newest `limit`."""
        return cast(list[Mandate], self.get("/mandates", assembly=assembly,
                                            limit=None if limit is None else str(limit)))

    def mandate(self, mandate_id: str, assembly: str | None = None) -> Mandate:
        return cast(Mandate, self.get(f"/mandates/{quote(mandate_id, safe='')}", assembly=assembly))

    def devices(self, assembly: str | None = None) -> list[Device]:
        return cast(list[Device], self.get("/devices", assembly=assembly))

    def peers(self) -> list[dict[str, Any]]:
        """Whom the daemon syncs with: last success, lag, sent, received, rejected, last error."""
        return cast(list[dict[str, Any]], self.get("/peers"))

    def completeness(self) -> dict[str, Any]:
        """Pending changes, the hashes they wait for, member ledgers not held yet."""
        return cast(dict[str, Any], self.get("/completeness"))

    def view(self, as_of: str | None = None, confederation: str | None = None) -> View:
        return cast(View, self.get("/view", as_of=as_of, confederation=confederation))

    def confederations(self, as_of: str | None = None) -> list[Confederation]:
        return cast(list[Confederation], self.get("/confederations", as_of=as_of))

    def proposals(self, confederation: str | None = None, as_of: str | None = None) -> list[Proposal]:
        return cast(list[Proposal], self.get("/proposals", confederation=confederation, as_of=as_of))

    def proposal(self, proposal_id: str, as_of: str | None = None) -> Proposal:
        """A proposal (`ASSEMBLY_KEY/DECISION_ID`) with its tally, breakdown and outcome."""
        return cast(Proposal, self.get(f"/proposals/{proposal_path(proposal_id)}", as_of=as_of))

    # --- writes (need the token) ----------------------------------------------------

    def decide(self, title: str, date: str, votes_for: int, against: int, abstain: int, *,
               text: str = "", quorum: int | None = None, dissent: str = "",
               supersedes: str | None = None) -> Decision:
        body = vote(date, votes_for, against, abstain, quorum, dissent, title=title, text=text)
        if supersedes is not None:
            body["supersedes"] = supersedes
        return cast(Decision, self.post("/decisions", body))

    def adopt_bylaws(self, bylaws: dict[str, Any], *, date: str, votes_for: int, against: int,
                     abstain: int, title: str = "Bylaws", quorum: int | None = None,
                     dissent: str = "") -> Decision:
        """Adopt or amend the bylaws by a vote: the keys of `bylaws` (rule, quorum, members)
        are set, the others kept. Returns the decision, with its outcome."""
        body = vote(date, votes_for, against, abstain, quorum, dissent, title=title)
        body["bylaws"] = bylaws
        return cast(Decision, self.post("/bylaws", body))

    def issue_mandate(self, delegate: str, council: str, term_from: str, term_until: str, *,
                      date: str, votes_for: int, against: int, abstain: int,
                      instructions: Sequence[tuple[str, str, str]] = (),
                      delegate_key: str | None = None, title: str | None = None,
                      quorum: int | None = None, dissent: str = "") -> Mandate:
        """`instructions`: (question, for|against|abstain, imperative|indicative) each."""
        body = vote(date, votes_for, against, abstain, quorum, dissent, title=title)
        body.update(delegate=delegate, council=council, term_from=term_from, term_until=term_until,
                    delegate_key=delegate_key, instructions=[
                        {"question": q, "position": p, "binding": b} for q, p, b in instructions])
        return cast(Mandate, self.post("/mandates", body))

    def recall_mandate(self, mandate_id: str, *, date: str, votes_for: int, against: int,
                       abstain: int, title: str | None = None, quorum: int | None = None,
                       dissent: str = "") -> Decision:
        body = vote(date, votes_for, against, abstain, quorum, dissent, title=title)
        return cast(Decision, self.post(f"/mandates/{quote(mandate_id, safe='')}/recall", body))

    def propose(self, confederation: str, title: str, *, date: str, votes_for: int, against: int,
                abstain: int, kind: str = "policy", subject: str | None = None,
                amendment: dict[str, Any] | None = None, text: str = "", ratify: bool = False) -> str:
        """Put a proposal to a confederation (id or name; the assembly's decision to do so);
        its id. With `ratify`, the same vote is also the assembly's ratification."""
        body = vote(date, votes_for, against, abstain, None, "", title=title, text=text)
        body.update(confederation=confederation, kind=kind, subject=subject, amendment=amendment,
                    ratify=ratify)
        return str(self.post("/proposals", body)["id"])

    def ratify(self, proposal_id: str, *, date: str, votes_for: int, against: int, abstain: int,
               title: str | None = None, quorum: int | None = None, dissent: str = "",
               supersedes: str | None = None) -> Decision:
        """This assembly's own vote on a confederal proposal."""
        body = vote(date, votes_for, against, abstain, quorum, dissent, title=title)
        if supersedes is not None:
            body["supersedes"] = supersedes
        return cast(Decision, self.post(f"/proposals/{proposal_path(proposal_id)}/ratify", body))

    def add_peer(self, url: str) -> bool:
        """Add a peer by URL; False if it was known already."""
        return bool(self.post("/peers", {"url": url})["added"])

    def remove_peer(self, url: str) -> None:
        self.post("/peers/remove", {"url": url})

    def add_device(self, key: str, label: str = "") -> Device:
        return cast(Device, self.post("/devices", {"key": key, "label": label}))

    def revoke_device(self, key: str) -> Device:
        return cast(Device, self.post(f"/devices/{quote(key, safe='')}/revoke", {}))

    # --- offline exchange (protocol-spec/bundles.md) --------------------------------

    def export_state(self) -> bytes:
        """What the daemon holds, as a state file (`pnyx state export`)."""
        return self.exchange("GET", "/state")

    def export_bundle(self, since: str | None = None, confederation: str | None = None,
                      for_state: bytes | None = None) -> bytes:
        """A bundle file of the records held (`pnyx bundle export`), optionally only what the
        daemon that wrote `for_state` lacks."""
        query = {"since": since, "confederation": confederation}
        if for_state is None:
            return self.exchange("GET", "/bundle", query=query)
        return self.exchange("POST", "/bundle/for-state", for_state, OCTETS, query)

    def import_bundle(self, bundle: bytes) -> dict[str, Any]:
        """Verify and store a bundle's records; new, already held, pending, rejected."""
        return cast(dict[str, Any], json.loads(
            self.exchange("POST", "/bundle/import", bundle, OCTETS)))

    # --- the economy of solidarity (protocol-spec/economy.md) ----------------------

    def plan(self, as_of: str | None = None, confederation: str | None = None) -> Plan:
        """The confederal plan: per item and month, needed against offered, what is uncovered."""
        return cast(Plan, self.get("/plan", as_of=as_of, confederation=confederation))

    def plan_jsonld(self, as_of: str | None = None, confederation: str | None = None) -> dict[str, Any]:
        """The same plan in Valueflows terms (Intent, Commitment, EconomicEvent...), as JSON-LD."""
        return cast(dict[str, Any], self.get("/plan.jsonld", as_of=as_of, confederation=confederation))

    def records(self, collection: str, assembly: str | None = None) -> list[EconomyRecord]:
        """Every record of `needs`, `offers`, `pledges`, `deliveries` or `commons` of a ledger."""
        return cast(list[EconomyRecord], self.get(f"/{quote(collection, safe='')}", assembly=assembly))

    def need(self, confederation: str, item: str, quantity: int, unit: str, by: str, *,
             priority: str = "normal", cooperative: str = "", note: str = "",
             date: str | None = None) -> EconomyRecord:
        return self._record("needs", date, confederation=confederation, item=item, quantity=quantity,
                            unit=unit, by=by, priority=priority, cooperative=cooperative, note=note)

    def offer(self, confederation: str, item: str, quantity: int, unit: str, available_from: str,
              available_until: str, *, conditions: str = "", cooperative: str = "",
              date: str | None = None) -> EconomyRecord:
        return self._record("offers", date, confederation=confederation, item=item, quantity=quantity,
                            unit=unit, conditions=conditions, cooperative=cooperative,
                            **{"from": available_from, "until": available_until})

    def pledge(self, need: str, offer: str, quantity: int, *, date: str | None = None) -> EconomyRecord:
        """This assembly's side of a pledge: `need` and `offer` are ASSEMBLY_KEY/RECORD_ID."""
        return self._record("pledges", date, need=need, offer=offer, quantity=quantity)

    def deliver(self, need: str, offer: str, quantity: int, *, note: str = "",
                date: str | None = None) -> EconomyRecord:
        return self._record("deliveries", date, need=need, offer=offer, quantity=quantity, note=note)

    def commons(self, confederation: str, good: str, rules: str, *,
                date: str | None = None) -> EconomyRecord:
        """A shared good this assembly keeps; the confederation adopts it by a `commons` proposal."""
        return self._record("commons", date, confederation=confederation, good=good, rules=rules)

    def revise(self, collection: str, record_id: str, *, date: str | None = None,
               **fields: Any) -> EconomyRecord:
        """A new record superseding `record_id`; the fields not given are kept."""
        return self._record(collection, date, supersedes=record_id, **fields)

    def withdraw(self, collection: str, record_id: str, *, date: str | None = None) -> EconomyRecord:
        body = {} if date is None else {"date": date}
        return cast(EconomyRecord, self.post(
            f"/{quote(collection, safe='')}/{quote(record_id, safe='')}/withdraw", body))

    def _record(self, collection: str, date: str | None, **fields: Any) -> EconomyRecord:
        body = {**fields, **({} if date is None else {"date": date})}
        return cast(EconomyRecord, self.post(f"/{quote(collection, safe='')}", body))

    # --- live events ----------------------------------------------------------------

    def events(self, last_event_id: str | None = None,
               read_timeout: float = EVENTS_READ_TIMEOUT) -> Iterator[Event]:
        """Server-sent events from GET /api/v1/events, starting with `hello`, until closed."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        req = urllib.request.Request(self._url("/events"), headers=headers)
        try:
            response = urllib.request.urlopen(req, timeout=read_timeout)
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, error_message(exc)) from None
        with response:
            yield from read_events(response)

    def wait_for(self, check: Callable[[], T | None], timeout: float) -> T:
        """Call `check` now and after every event until it returns something; TimeoutError
        after `timeout` seconds. Reconnects if the stream drops."""
        deadline = time.monotonic() + timeout
        last_id: str | None = None
        while True:
            found = check()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"not seen within {timeout} s")
            try:
                for event in self.events(last_id, read_timeout=min(remaining, EVENTS_READ_TIMEOUT)):
                    last_id = event["id"] or last_id
                    found = check()
                    if found is not None:
                        return found
                    if time.monotonic() >= deadline:
                        break
            except (TimeoutError, ConnectionError, urllib.error.URLError):
                pass

    def wait_for_outcome(self, proposal_id: str, timeout: float) -> Proposal:
        """The proposal once the confederal view decides it (any outcome but `open`)."""

        def decided() -> Proposal | None:
            try:
                found = self.proposal(proposal_id)
            except ApiError as exc:
                if exc.status == 404:  # not held here yet: its assembly's ledger has not arrived
                    return None
                raise
            return found if found["outcome"] != "open" else None

        return self.wait_for(decided, timeout)


def proposal_path(proposal_id: str) -> str:
    assembly, _, decision = proposal_id.partition("/")
    return f"{quote(assembly, safe='')}/{quote(decision, safe='')}"


def vote(date: str, votes_for: int, against: int, abstain: int, quorum: int | None, dissent: str,
         **fields: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    body.update(date=date, tally={"for": votes_for, "against": against, "abstain": abstain},
                quorum=quorum, dissent=dissent)
    return body


def error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(exc)["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)
