"""The queue dashboard shows each provider account's bucket with its current use, and a provider whose
circuit is open as degraded; Operations set a bucket's rate in admin."""

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import strip_tags

from lanes import buckets
from lanes.models import Circuit, CircuitState, RateBucket

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:lanes_lane_changelist")


def test_the_dashboard_shows_buckets_with_their_use_and_open_circuits(client, ops):
    buckets.ensure("sim:default", rate_per_s=500, burst=50)
    RateBucket.objects.update(use_per_s=250, throttled=3)
    Circuit.objects.create(name="twilio", state=CircuitState.OPEN, failures=20, detail="Twilio answered 503")
    client.force_login(ops)
    html = client.get(DASHBOARD).content.decode()
    assert 'id="providers"' in html
    assert "sim:default" in html and "250/s (50 %)" in html and "500/s" in html
    assert "degraded: open" in html and "Twilio answered 503" in html


@pytest.fixture
def twilio_account(settings):
    """Texts go through Twilio account AC1 from +15005550006 (faxes still through the simulated carrier)."""
    settings.MESSAGING_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_FROM_NUMBER = "AC1", "+15005550006"


def test_operations_set_a_buckets_rate_in_admin_and_it_starts_at_full_speed(client, ops, twilio_account):
    client.force_login(ops)
    response = client.post(
        reverse("admin:lanes_ratebucket_add"), {"name": "twilio:AC1", "rate_per_s": "100", "burst": "10"}
    )
    assert response.status_code == 302
    bucket = RateBucket.objects.get()
    assert (bucket.rate_per_s, bucket.current_rate, bucket.tokens) == (100, 100, 10)
    assert buckets.take("twilio:AC1", 50) == (10, 0.0)


def test_operations_add_a_sender_bucket_and_the_dashboard_shows_it(client, ops, twilio_account):
    client.force_login(ops)
    add = reverse("admin:lanes_ratebucket_add")
    assert client.post(add, {"name": "twilio:AC1", "rate_per_s": "100", "burst": "10"}).status_code == 302
    sender = {"name": "twilio:AC1:+15005550006", "rate_per_s": "1", "burst": "2"}
    assert client.post(add, sender).status_code == 302
    assert buckets.take_for("twilio:AC1", {"twilio:AC1:+15005550006": 5})["twilio:AC1:+15005550006"].granted == 2
    html = client.get(DASHBOARD).content.decode()
    assert "twilio:AC1:+15005550006" in html and "sender +15005550006" in html and "account" in html


@pytest.mark.parametrize("name", ["twilio", "twilio:", "Twilio:AC1", "twilio:AC 1", "twilio::+1500"])
def test_a_bucket_name_that_names_no_account_is_a_field_error(client, ops, twilio_account, name):
    client.force_login(ops)
    response = client.post(reverse("admin:lanes_ratebucket_add"), {"name": name, "rate_per_s": "1", "burst": "2"})
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert not RateBucket.objects.exists()
    assert response.context["adminform"].form.errors["name"] == [
        RateBucket._meta.get_field("name").validators[0].message
    ], "the pattern's words, not 'no provider sends through'"


def test_with_texts_on_twilio_the_simulated_carrier_has_only_its_fax_senders(client, ops, twilio_account, clinic_a):
    """The simulated carrier's senders by channel: with texts through Twilio, a clinic's SMS sender is no
    sender of the simulated carrier (its faxes are)."""
    clinic_a.fax_number = "+61290000001"
    clinic_a.save()
    client.force_login(ops)
    assert add_bucket(client, name="sim:default:+61290000001")[0] == 302
    assert add_bucket(client, name="sim:default:AlphaDiet")[1]["name"] == [
        "sim:default sends from no 'AlphaDiet'. Its senders now: sim:default:+61290000001."
    ]


def add_bucket(client, **fields):
    """POST the bucket admin's add form; (status, form errors by field, the page) with nothing assumed."""
    response = client.post(reverse("admin:lanes_ratebucket_add"), {"rate_per_s": "1", "burst": "2", **fields})
    errors = response.context["adminform"].form.errors if response.status_code == 200 else {}
    return response.status_code, errors, response.content.decode()


@pytest.mark.parametrize(
    "name, says",
    [
        ("twillio:AC1", "No provider sends through the account 'twillio:AC1'. In use now: sim:default, twilio:AC1."),
        ("twilio:AC2", "No provider sends through the account 'twilio:AC2'. In use now: sim:default, twilio:AC1."),
        (
            "twilio:AC1:+15005550066",
            "twilio:AC1 sends from no '+15005550066'. Its senders now: twilio:AC1:+15005550006.",
        ),
    ],
)
def test_a_bucket_nothing_draws_from_is_refused_with_the_names_in_use(client, ops, twilio_account, name, says):
    """A typo fitting the pattern made a bucket that limited nobody, while the real account went unlimited."""
    client.force_login(ops)
    status, errors, html = add_bucket(client, name=name)
    assert status == 200 and errors["name"] == [says]
    assert not RateBucket.objects.exists()


def test_a_sender_bucket_for_a_clinics_sender_is_accepted_through_the_simulated_carrier(client, ops, clinic_a):
    clinic_a.sms_sender = "KalixDemo"
    clinic_a.save()
    client.force_login(ops)
    assert add_bucket(client, name="sim:default:KalixDemo")[0] == 302
    assert add_bucket(client, name="sim:default:KalixDemp")[1]["name"] == [
        "sim:default sends from no 'KalixDemp'. Its senders now: sim:default:KalixDemo."
    ]


def test_a_sender_name_with_a_space_has_a_bucket_of_its_own(client, ops, clinic_a):
    """Carriers take spaces inside an alphanumeric sender ("Alpha Diet"); the name pattern refused them."""
    clinic_a.sms_sender = "Alpha Diet"
    clinic_a.save()
    client.force_login(ops)
    assert add_bucket(client, name="sim:default")[0] == 302
    assert add_bucket(client, name="sim:default:Alpha Diet")[0] == 302
    got = buckets.take_for("sim:default", {"sim:default:Alpha Diet": 5})["sim:default:Alpha Diet"].granted
    assert got == 2, "the sender's burst"


@pytest.mark.parametrize(
    "fields, field, says",
    [
        ({"rate_per_s": "5,5"}, "rate_per_s", 'Use a point for decimals ("5.5"), without commas.'),
        ({"rate_per_s": "1,000"}, "rate_per_s", 'Use a point for decimals ("5.5"), without commas.'),
        ({"rate_per_s": "fast"}, "rate_per_s", 'Enter a number, such as "5" or "0.5".'),
        ({"rate_per_s": "0"}, "rate_per_s", "Ensure this value is greater than or equal to 0.01."),
        ({"rate_per_s": "-5"}, "rate_per_s", "Ensure this value is greater than or equal to 0.01."),
        ({"rate_per_s": "500000"}, "rate_per_s", "Ensure this value is less than or equal to 10000."),
        ({"rate_per_s": "nan"}, "rate_per_s", 'Enter a number, such as "5" or "0.5".'),
        ({"burst": "0"}, "burst", "Ensure this value is greater than or equal to 1."),
        ({"burst": "100000"}, "burst", "Ensure this value is less than or equal to 10000."),
    ],
)
def test_a_rate_or_burst_typed_wrong_is_a_field_error_and_saves_nothing(
    client, ops, twilio_account, fields, field, says
):
    """A number box read "5,5" as 55 (a thousands separator in an English locale): a rate ten times too
    high. The rate is text now, so the comma reaches the server and is refused; 0 would stop sending."""
    client.force_login(ops)
    status, errors, html = add_bucket(client, name="twilio:AC1", **fields)
    assert status == 200 and errors[field] == [says]
    assert not RateBucket.objects.exists()


def test_the_rate_box_is_text_so_a_browser_sends_the_comma_as_typed(client, ops):
    """Chromium's number box turns a typed "5,5" into "55" before the form is sent (checked by hand in
    en-AU); a text box sends "5,5", which the field refuses."""
    client.force_login(ops)
    html = client.get(reverse("admin:lanes_ratebucket_add")).content.decode()
    box = re.search(r'<input[^>]*name="rate_per_s"[^>]*>', html).group(0)
    assert 'type="text"' in box and 'inputmode="decimal"' in box


def test_a_rate_with_a_point_is_kept_and_the_dashboard_shows_its_fraction(client, ops, twilio_account):
    client.force_login(ops)
    assert add_bucket(client, name="twilio:AC1", rate_per_s=" 5.5 ")[0] == 302
    assert RateBucket.objects.get().rate_per_s == 5.5
    assert "5.50/s" in client.get(DASHBOARD).content.decode()


def test_a_buckets_name_cannot_be_changed_on_its_page(client, ops, twilio_account):
    """The name is the key: changing it made a second bucket beside the first."""
    buckets.ensure("twilio:AC1", rate_per_s=100, burst=10)
    client.force_login(ops)
    change = reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])
    response = client.post(change, {"name": "twilio:AC1:+15005550006", "rate_per_s": "50", "burst": "10"})
    assert response.status_code == 302
    assert list(RateBucket.objects.values_list("name", "rate_per_s")) == [("twilio:AC1", 50)]


def test_with_redis_the_dashboard_and_admin_show_the_state_redis_holds(client, ops, buckets_redis):
    buckets.ensure("twilio:AC1", rate_per_s=100, burst=10)
    assert buckets.take("twilio:AC1", 7) == (7, 0.0)
    buckets.throttled("twilio:AC1")
    assert RateBucket.objects.get().taken == 0, "the row holds the settings, Redis the state"
    client.force_login(ops)
    html = client.get(DASHBOARD).content.decode()
    assert "80/s" in html, "the rate now, lowered by the 429"
    listing = client.get(reverse("admin:lanes_ratebucket_changelist")).content.decode()
    assert ">80.0<" in listing and ">1<" in listing
    form = client.get(reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])).content.decode()
    assert ">7<" in form, "requests let through, as Redis counted them"


def shown(html: str) -> str:
    """The words a browser shows of this HTML (tags gone, entities read)."""
    return unescape(strip_tags(html))


def test_the_bucket_name_help_shows_what_a_name_is_made_of(client, ops):
    """The help said "<provider>:<account>": admin does not escape help text, so the browser took both for tags
    and the operator read `An account: ":"`."""
    client.force_login(ops)
    html = client.get(reverse("admin:lanes_ratebucket_add")).content.decode()
    help_text = re.search(r'<div class="help" id="id_name_helptext">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "An account: PROVIDER:ACCOUNT (e.g. sim:default" in shown(help_text)
    assert "one of its senders: PROVIDER:ACCOUNT:FROM" in shown(help_text)


def test_a_bucket_name_of_the_wrong_shape_says_what_a_name_is_made_of():
    with pytest.raises(ValidationError) as refused:
        RateBucket(name="twilio", rate_per_s=1, burst=2).full_clean()
    assert refused.value.message_dict["name"] == [
        "PROVIDER:ACCOUNT or PROVIDER:ACCOUNT:FROM, no spaces but inside a sender name."
    ]


@pytest.mark.parametrize("typed", ["1e3", "1E3", "1_000", "infinity", "1.2.3", "0x10", "+5", "5 5"])
def test_a_rate_in_anything_but_digits_and_a_point_is_refused(client, ops, twilio_account, typed):
    """ "1e3" was taken as 1000 requests a second."""
    client.force_login(ops)
    status, errors, html = add_bucket(client, name="twilio:AC1", rate_per_s=typed)
    assert status == 200 and errors["rate_per_s"] == ['Enter a number, such as "5" or "0.5".']
    assert not RateBucket.objects.exists()


@pytest.mark.parametrize("typed, kept", [("5", 5), ("0.5", 0.5), (".5", 0.5), ("12.", 12)])
def test_a_rate_in_digits_with_a_point_is_kept(client, ops, twilio_account, typed, kept):
    client.force_login(ops)
    assert add_bucket(client, name="twilio:AC1", rate_per_s=typed)[0] == 302
    assert RateBucket.objects.get().rate_per_s == kept


def test_the_burst_box_and_its_message_both_say_at_least_one(client, ops, twilio_account):
    """ "-5" was refused with ">= 0" (the box's min=0) while 0 was refused with ">= 1"."""
    client.force_login(ops)
    html = client.get(reverse("admin:lanes_ratebucket_add")).content.decode()
    box = re.search(r'<input[^>]*name="burst"[^>]*>', html).group(0)
    assert 'min="1"' in box and 'value="10"' in box
    for typed in ("-5", "0"):
        status, errors, html = add_bucket(client, name="twilio:AC1", burst=typed)
        assert errors["burst"] == ["Ensure this value is greater than or equal to 1."], typed


def test_bucket_adds_edits_and_deletes_are_in_the_recent_operator_actions(client, ops, twilio_account):
    """Pauses and re-indexes were recorded; a bucket's rate set ten times too high was not."""
    from lanes.models import LaneAction

    client.force_login(ops)
    assert add_bucket(client, name="twilio:AC1", rate_per_s="100", burst="10")[0] == 302
    change = reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])
    assert client.post(change, {"rate_per_s": "50", "burst": "20"}).status_code == 302
    assert client.post(change, {"rate_per_s": "50", "burst": "20"}).status_code == 302  # nothing changed
    html = client.get(DASHBOARD).content.decode()
    delete = reverse("admin:lanes_ratebucket_delete", args=["twilio:AC1"])
    assert client.post(delete, {"post": "yes"}).status_code == 302

    assert list(LaneAction.objects.order_by("id").values_list("actor__username", "lane", "action", "detail")) == [
        ("olga", "", "bucket_add", "twilio:AC1: rate 100/s, burst 10"),
        ("olga", "", "bucket_change", "twilio:AC1: rate 100/s -> 50/s, burst 10 -> 20"),
        ("olga", "", "bucket_delete", "twilio:AC1: deleted (was rate 50/s, burst 20)"),
    ]
    recent = html.split("Recent operator actions")[1]
    assert "bucket_change: twilio:AC1: rate 100/s -&gt; 50/s, burst 10 -&gt; 20" in recent


def test_a_buckets_use_is_shown_to_two_decimals(client, ops, twilio_account):
    """The bucket page showed "Use per s: 0.008503964531256543"."""
    buckets.ensure("twilio:AC1", rate_per_s=100, burst=10)
    RateBucket.objects.update(use_per_s=0.008503964531256543)
    client.force_login(ops)

    page = client.get(reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])).content.decode()
    listing = client.get(reverse("admin:lanes_ratebucket_changelist")).content.decode()

    for html in (page, listing):
        assert "0.0085" not in html and "Use per s" in html
    assert '<div class="readonly">0.01</div>' in page
    assert '<td class="field-use_now">0.01</td>' in listing


def test_with_redis_a_buckets_use_is_shown_to_two_decimals_too(client, ops, buckets_redis):
    buckets.ensure("twilio:AC1", rate_per_s=100, burst=10)
    client.force_login(ops)

    listing = client.get(reverse("admin:lanes_ratebucket_changelist")).content.decode()

    assert '<td class="field-use_now">0.00</td>' in listing


def test_a_stale_bucket_tab_keeps_what_was_saved_meanwhile_and_a_clash_saves_nothing(client, ops, twilio_account):
    """The new-user walk: tab A lowered the rate 5 -> 3, tab B (opened before) changed only the burst, and
    the rate was 5/s again, with a success message."""
    buckets.ensure("twilio:AC1", rate_per_s=5, burst=10)
    client.force_login(ops)
    url = reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])

    def tab() -> dict:
        opened = re.search(r'name="opened" value="([^"]+)"', client.get(url).content.decode())[1]
        return {"rate_per_s": "5.0", "burst": "10", "opened": opened}

    tab_a, tab_b, tab_c = tab(), tab(), tab()
    assert client.post(url, {**tab_a, "rate_per_s": "3"}).status_code == 302
    assert client.post(url, {**tab_b, "burst": "20"}).status_code == 302
    assert RateBucket.objects.values_list("rate_per_s", "burst").get() == (3, 20)

    clash = client.post(url, {**tab_c, "rate_per_s": "8"})
    assert clash.status_code == 200
    assert clash.context["adminform"].form.errors["rate_per_s"] == [
        "Saved meanwhile as 3 by someone else: check it, then save again."
    ]
    assert RateBucket.objects.values_list("rate_per_s", "burst").get() == (3, 20)
