"""`{% clinic_field %}`: the hidden field that binds a staff form to the clinic it was rendered for.

Every POST form of a clinic-scoped staff page carries it, next to `{% csrf_token %}`; staff_required
refuses a post without it or for another clinic than the session's (clinics.tenancy.form_clinic_refusal).
"""

from django import template
from django.utils.html import format_html

from clinics.tenancy import FORM_CLINIC_FIELD

register = template.Library()


@register.simple_tag(takes_context=True)
def clinic_field(context) -> str:
    clinic = getattr(context.get("request"), "clinic", None)
    if clinic is None:
        return ""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_CLINIC_FIELD, clinic.pk)
