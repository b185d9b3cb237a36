"""Credits as integers.

Prices and balances are decimal for people (`212.5` credits) but the ledger sums thousands of rows a second;
integers in thousandths of a credit (millicredits) add exactly on every database and in Python, and convert
to the decimal text smsmode prints without rounding surprises.
"""

from __future__ import annotations

from decimal import Decimal

MILLI = 1000


def to_milli(credits: Decimal | int | str) -> int:
    """Credits to millicredits; refuses fractions finer than a thousandth rather than silently rounding."""
    value = Decimal(credits) * MILLI
    if value != value.to_integral_value():
        raise ValueError(f"{credits} has more than three decimals")
    return int(value)


def format_credits(milli: int) -> str:
    """`212500` → `"212.5"`, `1000000` → `"1000"`: smsmode's bare decimal with a dot, no trailing zeros."""
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), MILLI)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:03d}".rstrip("0")
