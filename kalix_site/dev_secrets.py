"""Development secrets: random per install, kept in .data/dev-secrets.json (mode 0600), never in the docs.

With DEBUG on, settings take SECRET_KEY, KALIX_SIMCARRIER_SECRET and ANYMAIL_WEBHOOK_SECRET from this
file when the environment leaves them unset. Every process of one install (web, lanes, the simulated
carrier) reads the same file, so they agree with each other, while no two installs share a secret: a
documented constant would let anyone sign reports for any development instance.

The file is made on first use under an exclusive lock and written whole (a temporary file renamed into
place), so processes starting together make one set of secrets and none reads half a file.
"""

import fcntl
import json
import os
import secrets
from pathlib import Path


def _fresh() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KALIX_SIMCARRIER_SECRET": secrets.token_urlsafe(32),
        # anymail's webhook secret is HTTP Basic's 'user:password'
        "ANYMAIL_WEBHOOK_SECRET": f"{secrets.token_hex(6)}:{secrets.token_urlsafe(24)}",
    }


NAMES = frozenset(_fresh())


def _read(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def dev_secrets(path: Path) -> dict[str, str]:
    """This install's development secrets, made (or completed, when a newer version adds one) on first use."""
    known = _read(path)
    if known.keys() >= NAMES:
        return known
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = _read(path)  # another process may have made it while we waited
        merged = {**_fresh(), **known}
        if merged != known:
            partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                json.dump(merged, out, indent=2)
            os.replace(partial, path)
        return merged
