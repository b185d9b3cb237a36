"""Splitting a lane's capacity between the accounts that have messages waiting in it.

Weighted fair sharing, decided per dispatch cycle: each account gets a share of the cycle's budget in
proportion to its weight, so one customer's million-message campaign takes no more than its share while another
customer's hundred messages go out at the same time. Rotating who gets the rounding remainder keeps small
budgets (fewer slots than accounts) fair over successive cycles.
"""

from __future__ import annotations

from collections.abc import Sequence


def fair_shares(weights: Sequence[int], budget: int, rotation: int = 0) -> list[int]:
    """Split `budget` in proportion to `weights` (each ≥ 1); the shares add up to `budget`.

    Largest remainder method; ties in the remainder go to the accounts starting at `rotation`, which the caller
    advances every cycle so that with more accounts than slots every account is served in turn.
    """
    count = len(weights)
    if count == 0 or budget <= 0:
        return [0] * count
    total = sum(weights)
    exact = [budget * w / total for w in weights]
    shares = [int(x) for x in exact]
    left = budget - sum(shares)
    order = sorted(range(count), key=lambda i: (-(exact[i] - shares[i]), (i - rotation) % count))
    for i in order[:left]:
        shares[i] += 1
    return shares
