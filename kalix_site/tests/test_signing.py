"""The one HMAC signer: an empty key never signs nor verifies; timestamped signatures have a window."""

import hashlib
import hmac

import pytest

from kalix_site import signing

BODY = b'{"reports": []}'


def test_an_empty_key_neither_signs_nor_verifies():
    with pytest.raises(signing.EmptyKey):
        signing.hmac_sha256("", BODY)
    forged = hmac.new(b"", BODY, hashlib.sha256).hexdigest()  # anyone can compute this
    for unset in ("", None):
        assert not signing.verify(unset, BODY, forged)
        refusal = signing.verify_timestamped(
            unset, BODY, timestamp="1000", signature=forged, window_seconds=300, now=1000
        )
        assert refusal == "bad signature"


def test_a_signature_verifies_with_its_key_only():
    signature = signing.hmac_sha256("k1", BODY)
    assert signature == hmac.new(b"k1", BODY, hashlib.sha256).hexdigest()
    assert signing.verify("k1", BODY, signature)
    assert not signing.verify("k2", BODY, signature)
    assert not signing.verify("k1", BODY + b" ", signature)
    assert not signing.verify("k1", BODY, "")
    assert not signing.verify("k1", BODY, "é" * 64)  # not hex, not ASCII: refused, not an error


def test_a_timestamped_signature_covers_the_timestamp_and_has_a_window():
    signature = signing.sign_timestamped("k", BODY, timestamp=1000)
    assert signature == hmac.new(b"k", b"1000." + BODY, hashlib.sha256).hexdigest()

    def check(timestamp="1000", now=1000, sig=signature):
        return signing.verify_timestamped("k", BODY, timestamp=timestamp, signature=sig, window_seconds=300, now=now)

    assert check() is None
    assert check(now=1300) is None and check(now=700) is None
    assert check(now=1301) == check(now=699) == "timestamp outside the replay window"
    assert check(timestamp="1001") == "bad signature"  # the timestamp is signed: it cannot be moved
    for malformed in ("", "-1000", "1e3", " 1000", "9" * 30):
        assert check(timestamp=malformed) == "missing or malformed timestamp", malformed


def test_the_status_page_signs_its_webhooks_with_the_shared_signer(monkeypatch):
    from statuspage import notify

    calls = []
    real = signing.hmac_sha256
    monkeypatch.setattr(signing, "hmac_sha256", lambda secret, message: calls.append(secret) or real(secret, message))
    assert notify.signature("s3cret", BODY) == "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert calls == ["s3cret"]
