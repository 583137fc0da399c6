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


SYMBOLS = {"AUD": "A$", "NZD": "NZ$", "USD": "US$", "CAD": "CA$", "GBP": "£", "EUR": "€"}


def format_money(amount, currency: str) -> str:
    """ "A$1,234.50": the clinic's currency with its symbol (or its code), thousands separated."""
    value = to_money(amount)
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency)
    number = f"{abs(value):,.2f}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def plural(count: int, noun: str) -> str:
    """ "1 invoice", "2 invoices": the words staff read in history and messages."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
