"""kalix_site.errors: a service's ValidationError, in whatever shape it was raised, reaches the form or the
API on the field it names, and the API answers every validation failure as a 400 with the same keys."""

import pytest
from django import forms
from django.core.exceptions import ValidationError

from kalix_site import errors


class AmountForm(forms.Form):
    amount = forms.DecimalField()


def bound_form() -> AmountForm:
    form = AmountForm({"amount": "5"})
    assert form.is_valid()
    return form


def test_a_field_error_lands_on_its_field():
    form = bound_form()
    errors.add_form_errors(form, ValidationError({"amount": "At most 4.00 is still owed."}))
    assert form.errors == {"amount": ["At most 4.00 is still owed."]}
    assert "amount" not in form.cleaned_data  # an errored field is no longer clean


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("A void invoice cannot be edited."),  # plain: answered 500 by billing's copy
        ValidationError(["A void invoice cannot be edited."]),
        ValidationError({"__all__": "A void invoice cannot be edited."}),  # a model's clean()
        ValidationError({"invoice": "A void invoice cannot be edited."}),  # a field the form does not have
    ],
    ids=["plain", "list", "all", "unknown-field"],
)
def test_what_names_no_field_of_the_form_is_a_non_field_error(error):
    form = bound_form()
    errors.add_form_errors(form, error)
    assert form.non_field_errors() == ["A void invoice cannot be edited."]
    assert form.errors.keys() == {"__all__"}


def test_one_line_for_commands_and_admin_messages():
    both = ValidationError({"throttle": "Cannot be negative.", "__all__": "Nothing to do."})
    assert errors.as_text(both) == "throttle: Cannot be negative.; Nothing to do."
    assert errors.as_text(ValidationError("Nothing to do.")) == "Nothing to do."


def test_the_api_body_uses_field_names_and_drfs_non_field_key():
    assert errors.api_detail(ValidationError({"amount": "Too much.", "__all__": "No."})) == {
        "amount": ["Too much."],
        "non_field_errors": ["No."],
    }
    assert errors.api_detail(ValidationError("No.")) == {"non_field_errors": ["No."]}


def test_a_django_validation_error_out_of_any_api_view_is_a_400_with_its_fields(rf, staff_a):
    """The one EXCEPTION_HANDLER: a view that lets a service's ValidationError through answers 400 with
    the field errors, never 500 (DRF alone re-raises it)."""
    from rest_framework.decorators import api_view, permission_classes
    from rest_framework.permissions import AllowAny

    @api_view(["POST"])
    @permission_classes([AllowAny])
    def refuse(request):
        raise ValidationError({"amount": "At most 4.00 is still owed.", "__all__": "The batch is closed."})

    response = refuse(rf.post("/x", {}, content_type="application/json"))
    assert response.status_code == 400
    assert response.data == {"amount": ["At most 4.00 is still owed."], "non_field_errors": ["The batch is closed."]}
