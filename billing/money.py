from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    """A Decimal with exactly two places, rounded half up (never a float on the way)."""
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a Decimal, int or str.")
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def plural(count: int, noun: str) -> str:
    """ "1 invoice", "2 invoices": the words staff read in history and messages."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
