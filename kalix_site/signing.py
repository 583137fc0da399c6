"""The one HMAC-SHA256 signer for everything Kalix signs or checks: delivery reports from the simulated
carrier, our requests to it, and the status page's webhooks to its subscribers.

Invariant: an empty key neither signs nor verifies. A secret left unset must make a webhook refuse every
request; an HMAC made with the empty key is one anybody can compute.

Timestamped signatures cover "<timestamp>.<body>" (Unix seconds, as Stripe and Slack sign), so the
timestamp cannot be moved without the key and a captured request stops verifying once its timestamp is
outside the replay window.
"""

import hashlib
import hmac
import time

# Unix seconds have 10 digits until the year 2286; anything longer is not a timestamp we will accept.
MAX_TIMESTAMP_DIGITS = 12


class EmptyKey(ValueError):
    """Signing was asked for with an empty key: a configuration error, never a signature."""


def hmac_sha256(secret: str, message: bytes) -> str:
    """The hex HMAC-SHA256 of `message` under `secret`; refuses an empty secret."""
    if not secret:
        raise EmptyKey("refusing to sign with an empty key")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str | None, message: bytes, signature: str | None) -> bool:
    """Whether `signature` is our HMAC of `message`; always False with an empty secret or signature."""
    if not secret or not signature:
        return False
    # bytes, not str: compare_digest raises on a non-ASCII str, and a header may hold anything
    return hmac.compare_digest(hmac_sha256(secret, message).encode(), signature.encode("utf-8", "replace"))


def sign_timestamped(secret: str, body: bytes, *, timestamp: int) -> str:
    return hmac_sha256(secret, f"{timestamp}.".encode() + body)


def verify_timestamped(
    secret: str | None,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    window_seconds: float,
    now: float | None = None,
) -> str | None:
    """None when `signature` signs `body` at `timestamp` and the timestamp lies within `window_seconds`
    either side of now; otherwise the reason it does not (for the log and the 403's text)."""
    timestamp = timestamp or ""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return "missing or malformed timestamp"
    if not verify(secret, f"{timestamp}.".encode() + body, signature):
        return "bad signature"
    if abs((time.time() if now is None else now) - int(timestamp)) > window_seconds:
        return "timestamp outside the replay window"
    return None
