from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# The largest amount a money column holds (models.MONEY: 12 digits, 2 after the point); above it
# PostgreSQL raises NumericValueOutOfRange, so a sum is checked against it before it is saved.
MAX_MONEY = Decimal(10) ** 10 - CENT


def to_money(value) -> Decimal:
    """A Decimal with exactly two places, rounded half up (never a float on the way)."""
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a Decimal, int or str.")
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)
