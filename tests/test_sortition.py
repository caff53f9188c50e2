"""Verifiable sortition (protocol-spec/sortition.md): chances, seed and panel recomputed from records.

The vectors are read back from JSON and judged by the code, so a second
implementation and this one are held to the same bytes; the lottery that
pnyx makes (daemon/services/lottery.py) is checked for what a volunteer is
promised: panels that meet the quotas, and chances as equal as they allow.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import json
import multiprocessing
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pnyx.daemon.services.lottery import fair_portfolio
from pnyx.federation.draws import draw_result
from pnyx.federation.keys import parse_key
from pnyx.federation.sortition import (
    Candidate,
    DrawError,
    Post,
    Quota,
    chances,
    check_portfolio,
    commitment,
    meets_quotas,
    pick,
    seed,
)

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
VECTOR = json.loads((VECTORS / "sortition.json").read_text())


def pool_of(rows: list[dict[str, object]]) -> dict[str, Candidate]:
    return {str(r["id"]): Candidate(str(r["id"]), dict(r["attributes"])) for r in rows}  # type: ignore[call-overload]


def post_of(row: dict[str, object]) -> Post:
    return Post(int(row["seats"]), tuple(Quota(**q) for q in row["quotas"]))  # type: ignore[arg-type, attr-defined]


def portfolio_of(rows: list[dict[str, object]]) -> tuple[tuple[tuple[str, ...], int], ...]:
    return tuple((tuple(r["panel"]), int(r["weight"])) for r in rows)  # type: ignore[arg-type, call-overload]


POOL, POST, PORTFOLIO = pool_of(VECTOR["pool"]), post_of(VECTOR["post"]), portfolio_of(VECTOR["portfolio"])


def test_the_vector_draw_recomputes_from_its_records() -> None:
    check_portfolio(POOL, POST, PORTFOLIO)
    shown = {c: f"{f.numerator}/{f.denominator}" for c, f in chances(POOL, PORTFOLIO).items()}
    assert shown == VECTOR["chances"]
    committed = {bytes.fromhex(p["assembly"]): bytes.fromhex(p["commitment"]) for p in VECTOR["participants"]}
    revealed = {bytes.fromhex(p["assembly"]): bytes.fromhex(p["secret"]) for p in VECTOR["participants"]}
    assert seed(VECTOR["draw"], committed, revealed).hex() == VECTOR["seed"]
    assert list(pick(PORTFOLIO, bytes.fromhex(VECTOR["seed"]))) == VECTOR["panel"]


@pytest.mark.parametrize("case", VECTOR["invalid_portfolios"], ids=lambda c: c["why"])
def test_a_portfolio_that_breaks_a_rule_is_refused_naming_it(case: dict[str, object]) -> None:
    with pytest.raises(DrawError) as refused:
        check_portfolio(POOL, POST, portfolio_of(case["portfolio"]))  # type: ignore[arg-type]
    assert refused.value.rule == case["rule"]


def test_a_refusal_in_a_child_process_reaches_the_parent_naming_its_rule() -> None:
    """A lottery solved in a child process (bench lottery bounds its time so) reports its
    refusal: the parent gets the same DrawError, its rule and message; unpickling it failed in
    the pool's result thread, which died and left `make bench` ending in a traceback."""
    case = VECTOR["invalid_portfolios"][0]
    with multiprocessing.get_context("fork").Pool(1) as child:
        pending = child.apply_async(check_portfolio, (POOL, POST, portfolio_of(case["portfolio"])))
        with pytest.raises(DrawError) as refused:
            pending.get(60)
    assert refused.value.rule == case["rule"] and str(refused.value).startswith(f"{case['rule']}: ")


def test_regenerating_the_vectors_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("sortition_vectors", VECTORS / "generate_sortition.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    assert (tmp_path / "sortition.json").read_bytes() == (VECTORS / "sortition.json").read_bytes()


def test_nobody_can_change_the_seed_alone_or_draw_without_every_reveal() -> None:
    draw = "aaaabbbbccccdddd"
    keys = [bytes([n]) * 32 for n in (1, 2, 3)]
    secrets = {k: bytes([k[0] + 10]) * 32 for k in keys}
    committed = {k: commitment(draw, k, s) for k, s in secrets.items()}
    base = seed(draw, committed, secrets)
    for k in keys:  # whoever swaps its secret after committing is caught, not obeyed
        with pytest.raises(DrawError) as swapped:
            seed(draw, committed, {**secrets, k: b"\x00" * 32})
        assert swapped.value.rule == "SD2"
        with pytest.raises(DrawError) as withheld:
            seed(draw, committed, {o: s for o, s in secrets.items() if o != k})
        assert withheld.value.rule == "SD2"
    recommitted = {**committed, keys[0]: commitment(draw, keys[0], b"\x07" * 32)}
    assert seed(draw, recommitted, {**secrets, keys[0]: b"\x07" * 32}) != base
    with pytest.raises(DrawError) as alone:
        seed(draw, {keys[0]: committed[keys[0]]}, secrets)
    assert alone.value.rule == "SD1"


def test_the_seed_picks_panels_in_proportion_to_their_weights() -> None:
    total = sum(w for _, w in PORTFOLIO)
    drawn = Counter(pick(PORTFOLIO, n.to_bytes(8, "big")) for n in range(6000))
    for panel, weight in PORTFOLIO:
        assert abs(drawn[panel] / 6000 - weight / total) < 0.03, panel


def test_the_lottery_gives_equal_chances_within_each_quota() -> None:
    """10 women for 3 seats and 50 men for 3: every woman 3/10, every man 3/50."""
    pool = {f"c{i:02d}": Candidate(f"c{i:02d}", {"gender": "woman" if i < 10 else "man",
                                                   "area": ("north", "south", "east")[i % 3]})
            for i in range(60)}
    post = Post(6, (Quota("gender", "woman", 3, 3), Quota("gender", "man", 3, 3),
                    Quota("area", "north", 1, 6)))
    portfolio = fair_portfolio(pool, post)
    check_portfolio(pool, post, portfolio)
    for cid, chance in chances(pool, portfolio).items():
        expected = Fraction(3, 10) if pool[cid].attributes["gender"] == "woman" else Fraction(3, 50)
        assert abs(chance - expected) < Fraction(1, 10_000), (cid, chance)


@st.composite
def draws(draw: st.DrawFn) -> tuple[dict[str, Candidate], Post]:
    size = draw(st.integers(2, 14))
    values = ["a", "b", "c"]
    pool = {f"p{i:02d}": Candidate(f"p{i:02d}", {"g": draw(st.sampled_from(values))}) for i in range(size)}
    seats = draw(st.integers(1, size))
    quotas = []
    for value in values:
        have = sum(1 for c in pool.values() if c.attributes["g"] == value)
        low = draw(st.integers(0, min(have, seats)))
        quotas.append(Quota("g", value, low, draw(st.integers(low, seats))))
    return pool, Post(seats, tuple(quotas))


@settings(max_examples=40, deadline=None)
@given(draws())
def test_any_lottery_pnyx_makes_passes_every_reader_check(case: tuple[dict[str, Candidate], Post]) -> None:
    pool, post = case
    try:
        portfolio = fair_portfolio(pool, post)
    except DrawError as exc:  # only when no panel can meet the quotas, which brute force confirms
        assert exc.rule == "SR1"
        assert all(meets_quotas(panel, pool, post) is not None
                   for panel in itertools.combinations(sorted(pool), post.seats))
        return
    check_portfolio(pool, post, portfolio)
    shares = chances(pool, portfolio)
    assert sum(shares.values()) == post.seats
    seated = [s for s in shares.values() if s > 0]
    assert min(seated) > 0


LEDGER = VECTOR["ledger"]


def ledger_steps() -> dict[bytes, dict[str, dict[str, str]]]:
    return {parse_key(k): v for k, v in LEDGER["steps"].items()}


@pytest.mark.parametrize("as_of", sorted(LEDGER["results"]))
def test_the_ledger_records_of_a_draw_give_the_published_result(as_of: str) -> None:
    """SL1–SL5: the declaration and the steps, read back from JSON, give the vector's result."""
    found = draw_result(LEDGER["draw"], LEDGER["sortition"], dt.date.fromisoformat(LEDGER["declared"]),
                        True, ledger_steps(), dt.date.fromisoformat(as_of))
    assert found == LEDGER["results"][as_of]


def test_a_draw_not_adopted_or_ill_declared_draws_nothing() -> None:
    declared, as_of = dt.date.fromisoformat(LEDGER["declared"]), dt.date(2026, 10, 20)
    rejected = draw_result(LEDGER["draw"], LEDGER["sortition"], declared, False, ledger_steps(), as_of)
    assert rejected["status"] == "rejected" and "panel" not in rejected
    assert rejected["chances"] == VECTOR["chances"]
    one_participant = {**LEDGER["sortition"], "participants": LEDGER["sortition"]["participants"][:1]}
    lonely = draw_result(LEDGER["draw"], one_participant, declared, True, ledger_steps(), as_of)
    assert lonely["status"] == "invalid" and lonely["reason"].startswith("SL1")
    bad_panel = {**LEDGER["sortition"], "portfolio": [{"panel": ["bo", "dara"], "weight": 1}]}
    assert draw_result(LEDGER["draw"], bad_panel, declared, True, ledger_steps(),
                       as_of)["reason"].startswith("SR1")
    late = {**LEDGER["sortition"], "commit_by": "2026-09-30"}
    assert draw_result(LEDGER["draw"], late, declared, True, ledger_steps(), as_of)["status"] == "invalid"


def test_a_withheld_reveal_voids_the_draw_after_its_date() -> None:
    steps = ledger_steps()
    withheld = next(iter(steps))
    steps[withheld] = {k: r for k, r in steps[withheld].items() if r["step"] == "commit"}
    declared = dt.date.fromisoformat(LEDGER["declared"])
    assert draw_result(LEDGER["draw"], LEDGER["sortition"], declared, True, steps,
                       dt.date(2026, 10, 9))["status"] == "revealing"
    void = draw_result(LEDGER["draw"], LEDGER["sortition"], declared, True, steps, dt.date(2026, 10, 11))
    assert void["status"] == "void" and "panel" not in void and "seed" not in void
    steps[withheld] = None  # type: ignore[assignment]
    assert draw_result(LEDGER["draw"], LEDGER["sortition"], declared, True, steps,
                       dt.date(2026, 10, 11))["status"] == "incomplete"
