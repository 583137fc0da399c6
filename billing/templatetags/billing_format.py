"""How billing pages show money, statuses and times: the clinic's currency, status words not codes."""

from django import template

from billing import carc
from billing.models import BillingBatch, Invoice
from billing.money import format_money

register = template.Library()

BATCH_WORDS = dict(BillingBatch.Status.choices)
INVOICE_WORDS = dict(Invoice.Status.choices)


@register.filter
def money(amount, currency):
    return "—" if amount is None or amount == "" else format_money(amount, currency)


@register.filter
def batch_status(code):
    return BATCH_WORDS.get(code, code) if code else "—"


@register.filter
def invoice_status(code):
    return INVOICE_WORDS.get(code, code) if code else "—"


@register.filter
def carc_reason(code):
    return carc.reason_words(code)


@register.filter
def carc_group(code):
    return carc.group_words(code)
