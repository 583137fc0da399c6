"""Strict environment parsing, and one naming rule for the variables Kalix reads.

Invariant: a value that does not parse stops start-up with an error naming the variable. "ture" for a
boolean, "5s" for a number of seconds or "ten" for a count is a typo, and running on with the default
(the lenient parser this replaces took "ture" as False) turns a typo into a setting nobody chose, found
in production. Parsing is environs' (marshmallow fields): booleans are 1/0, true/false, yes/no, on/off,
t/f, y/n in any case; anything else is refused. An empty value means the default for a boolean or a
number (what `VAR=` in a compose file means); for a string or a list it is the empty value.

Naming: Kalix's own variables are KALIX_<NAME>. Names that libraries define stay as they name them
(DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS, Django's SECURE_*/SESSION_*/CSRF_*, EMAIL_*, TWILIO_*,
REDIS_URL, ANYMAIL_*, gunicorn's WEB_CONCURRENCY). A variable renamed to follow the rule is still read
under its old name, with a warning at start-up naming the new one; when both are set the new one wins
(and the warning says the old one is ignored), so a deployment can move at its own pace.

This module imports nothing of Django: scripts/run.py reads its variables with it before Django starts.
"""

from __future__ import annotations  # the methods below are named after the builtins they return

import os
import warnings

from environs import Env, EnvError

# Variables named by the libraries that read them (or whose settings they fill): not renamed.
LIBRARY_NAMES = {
    "DEBUG",  # Django's settings, set from variables of the same name
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TIME_ZONE",
    "MEDIA_ROOT",
    "DEFAULT_FROM_EMAIL",
    "SERVER_EMAIL",
    "DATABASE_URL",  # dj-database-url
    "REDIS_URL",  # redis-py's URL, by convention
    "PHONENUMBER_DEFAULT_REGION",  # django-phonenumber-field
    "Q_CLUSTER_NAME",  # django-q2 picks the lane's cluster by it
    "WEB_CONCURRENCY",  # gunicorn
}
LIBRARY_PREFIXES = ("SECURE_", "SESSION_", "CSRF_", "EMAIL_", "TWILIO_", "ANYMAIL_")


def follows_naming_rule(name: str) -> bool:
    return name.startswith("KALIX_") or name in LIBRARY_NAMES or name.startswith(LIBRARY_PREFIXES)


class ConfigurationError(ValueError):
    """A variable's value does not parse; the message names the variable and what it accepts."""


class RenamedVariableWarning(UserWarning):
    """A variable was given under its old name. A UserWarning, not a DeprecationWarning: those are
    hidden by default, and an operator must see this at start-up."""


BOOLEAN_WORDS = "1/0, true/false, yes/no, on/off"


class Environment:
    """Typed reads of os.environ: str, bool, int, float, list; each with `old=` for a renamed variable."""

    def __init__(self):
        self._env = Env(eager=True, expand_vars=False)  # no .env file, no $VAR expansion: what is set is used
        self.names: dict[str, str | None] = {}  # every variable read: its name -> its old name (or None)

    @staticmethod
    def _name(name: str, old: str | None) -> str | None:
        """The variable to read (the new name unless only the old one is set), or None when neither is."""
        new_set, old_set = name in os.environ, old is not None and old in os.environ
        if old_set:
            ignored = " (ignored: it is set too)" if new_set else ""
            # stacklevel 4: the warning points at the settings line that reads the variable
            warnings.warn(f"{old} is a renamed variable: set {name} instead{ignored}", RenamedVariableWarning, 4)
        if new_set:
            return name
        return old if old_set else None

    def _parse(self, kind: str, name: str, old: str | None, default, accepts: str):
        self.names[name] = old
        found = self._name(name, old)
        if found is None or (kind in ("bool", "int", "float") and os.environ[found] == ""):
            return default
        try:
            return getattr(self._env, kind)(found)
        except EnvError:
            raise ConfigurationError(f"{found}={os.environ[found]!r} is not {accepts}") from None

    def str(self, name: str, default: str | None = None, *, old: str | None = None) -> str | None:
        return self._parse("str", name, old, default, "text")

    def bool(self, name: str, default: bool = False, *, old: str | None = None) -> bool:
        return self._parse("bool", name, old, default, f"a boolean ({BOOLEAN_WORDS})")

    def int(self, name: str, default: int, *, old: str | None = None) -> int:
        return self._parse("int", name, old, default, "a whole number")

    def float(self, name: str, default: float, *, old: str | None = None) -> float:
        return self._parse("float", name, old, default, "a number")

    def list(self, name: str, default: list[str], *, old: str | None = None) -> list[str]:
        """Comma-separated; items are stripped and empty ones dropped ("a, b," is ["a", "b"])."""
        items = self._parse("list", name, old, None, "a comma-separated list")
        return default if items is None else [item.strip() for item in items if item.strip()]
