"""The parity rules of protocol-spec/charter.md (PA1–PA3) and what a charter's `parity` may hold."""

from __future__ import annotations

import pytest
from pnyx.federation.parity import parity_gap, parse_parity

PARITY = parse_parity({"attribute": "gender", "min": {"woman": 1, "man": 1}, "share": "2/6"})


def test_a_delegation_meets_parity_or_says_which_rule_it_misses() -> None:
    assert PARITY == {"attribute": "gender", "min": {"man": 1, "woman": 1}, "share": "1/3"}
    woman, man, other = {"gender": "woman"}, {"gender": "man"}, {"gender": "other"}
    assert parity_gap(PARITY, [woman, man]) is None
    assert parity_gap(PARITY, []) == "no delegate in office"  # PA1
    assert parity_gap(PARITY, [man, {}]) == "0 delegates of gender woman; the charter requires 1"  # PA2
    assert parity_gap(PARITY, [woman, man, man, man]) == \
        "1 of 4 delegates of gender woman; the charter requires 1/3"  # PA3
    assert parity_gap(PARITY, [woman, man, other]) is None


@pytest.mark.parametrize("bad", [
    {"attribute": "gender"}, {"attribute": "", "min": {"woman": 1}}, {"attribute": "g", "min": {}},
    {"attribute": "g", "min": {"w": -1}}, {"attribute": "g", "min": {"w": True}},
    {"attribute": "g", "min": {"w": 1}, "share": "2"}, {"attribute": "g", "min": {"w": 1}, "share": "0/3"},
    {"attribute": "g", "min": {"w": 1}, "extra": 1}, "gender"])
def test_a_parity_that_does_not_fit_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_parity(bad)  # type: ignore[arg-type]
