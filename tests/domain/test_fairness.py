"""Splitting a lane's budget between accounts by weight."""

from __future__ import annotations

import pytest

from martinet.domain.fairness import fair_shares

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("weights", "budget", "rotation", "shares"),
    [
        ([1, 1], 500, 0, [250, 250]),
        ([3, 1], 100, 0, [75, 25]),
        ([1, 1, 1], 10, 0, [4, 3, 3]),
        ([1, 1, 1], 10, 1, [3, 4, 3]),  # the remainder goes round
        ([1, 1, 1], 2, 2, [1, 0, 1]),
        ([5], 7, 0, [7]),
        ([], 5, 0, []),
        ([1, 2], 0, 0, [0, 0]),
    ],
)
def test_shares_follow_weights_and_add_up(weights: list[int], budget: int, rotation: int, shares: list[int]) -> None:
    assert fair_shares(weights, budget, rotation) == shares
    assert sum(shares) == (budget if weights else 0)


def test_with_fewer_slots_than_accounts_each_is_served_once_in_turn() -> None:
    served = [0] * 5
    for rotation in range(5):
        for i, share in enumerate(fair_shares([1] * 5, 1, rotation)):
            served[i] += share
    assert served == [1] * 5
