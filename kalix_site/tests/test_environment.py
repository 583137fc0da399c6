"""Strict environment parsing and one naming rule (kalix_site/env.py): a typo stops start-up naming the
variable, renamed variables are still read under their old names with a warning, and the new name wins."""

import re
import warnings

import pytest

from kalix_site import env as kalix_env
from kalix_site.env import ConfigurationError, Environment, RenamedVariableWarning
from tests.support.processes import ROOT, run_manage

# --- the reader ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["ture", "enabled", "2", " true"])
def test_a_boolean_that_is_not_one_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("KALIX_EMAIL_TRACKING", value)
    with pytest.raises(ConfigurationError) as refused:
        Environment().bool("KALIX_EMAIL_TRACKING", False)
    assert str(refused.value) == f"KALIX_EMAIL_TRACKING={value!r} is not a boolean (1/0, true/false, yes/no, on/off)"


@pytest.mark.parametrize("value, expected", [("1", True), ("TRUE", True), ("on", True), ("no", False), ("0", False)])
def test_booleans_in_every_usual_spelling(monkeypatch, value, expected):
    monkeypatch.setenv("KALIX_EMAIL_TRACKING", value)
    assert Environment().bool("KALIX_EMAIL_TRACKING", not expected) is expected


def test_numbers_that_are_not_are_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("KALIX_LIVE_WORKERS", "two")
    monkeypatch.setenv("KALIX_Q_POLL", "0.1s")
    with pytest.raises(ConfigurationError, match=r"^KALIX_LIVE_WORKERS='two' is not a whole number$"):
        Environment().int("KALIX_LIVE_WORKERS", 2)
    with pytest.raises(ConfigurationError, match=r"^KALIX_Q_POLL='0.1s' is not a number$"):
        Environment().float("KALIX_Q_POLL", 0.1)


def test_an_empty_number_or_boolean_is_the_default_an_empty_list_is_empty(monkeypatch):
    for name in ("KALIX_LIVE_WORKERS", "KALIX_Q_POLL", "KALIX_EMAIL_TRACKING", "KALIX_SIMCARRIER_REJECT_TO"):
        monkeypatch.setenv(name, "")
    env = Environment()
    assert (env.int("KALIX_LIVE_WORKERS", 2), env.float("KALIX_Q_POLL", 0.1)) == (2, 0.1)
    assert env.bool("KALIX_EMAIL_TRACKING", True) is True
    assert env.list("KALIX_SIMCARRIER_REJECT_TO", ["+61400000000"]) == []
    monkeypatch.setenv("KALIX_SIMCARRIER_REJECT_TO", " +61400000001, ,+61400000002,")
    assert env.list("KALIX_SIMCARRIER_REJECT_TO", []) == ["+61400000001", "+61400000002"]


def test_an_old_name_is_read_with_a_warning_naming_the_new_one(monkeypatch):
    monkeypatch.delenv("KALIX_LOG_LEVEL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    with pytest.warns(RenamedVariableWarning, match=r"^LOG_LEVEL is a renamed variable: set KALIX_LOG_LEVEL instead$"):
        assert Environment().str("KALIX_LOG_LEVEL", "INFO", old="LOG_LEVEL") == "WARNING"


def test_the_new_name_wins_over_the_old_and_the_warning_says_so(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "not a level")  # even unparseable: the old value is not read at all
    monkeypatch.setenv("KALIX_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("API_PAGE_SIZE", "ten")
    monkeypatch.setenv("KALIX_API_PAGE_SIZE", "10")
    env = Environment()
    with pytest.warns(RenamedVariableWarning, match=r"set KALIX_LOG_LEVEL instead \(ignored: it is set too\)"):
        assert env.str("KALIX_LOG_LEVEL", "INFO", old="LOG_LEVEL") == "ERROR"
    with pytest.warns(RenamedVariableWarning):
        assert env.int("KALIX_API_PAGE_SIZE", 50, old="API_PAGE_SIZE") == 10


def test_no_warning_when_only_the_new_name_is_set(monkeypatch):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.setenv("KALIX_LOG_LEVEL", "ERROR")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Environment().str("KALIX_LOG_LEVEL", "INFO", old="LOG_LEVEL") == "ERROR"


# --- at start-up ------------------------------------------------------------------------------------

READ = "from django.conf import settings as s; print(s.DEBUG, s.STATUSPAGE_NAME, s.REST_FRAMEWORK['PAGE_SIZE'])"


def test_start_up_refuses_a_misspelt_boolean_naming_the_variable(db):
    """ "ture" was silently False: a production switch typed wrong ran with the opposite of what was meant."""
    result = run_manage("check", DEBUG="ture")
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean (1/0, true/false, yes/no, on/off)" in result.stderr


def test_start_up_refuses_a_count_that_is_not_a_number(db):
    result = run_manage("check", KALIX_LIVE_WORKERS="four")
    assert result.returncode != 0
    assert "KALIX_LIVE_WORKERS='four' is not a whole number" in result.stderr


def test_start_up_reads_old_names_and_warns_naming_the_new_ones(db):
    result = run_manage("shell", "-c", READ, STATUSPAGE_NAME="Old Name", API_PAGE_SIZE="7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True Old Name 7"
    assert "STATUSPAGE_NAME is a renamed variable: set KALIX_STATUSPAGE_NAME instead" in result.stderr
    assert "API_PAGE_SIZE is a renamed variable: set KALIX_API_PAGE_SIZE instead" in result.stderr


def test_at_start_up_the_new_name_wins_over_the_old(db):
    result = run_manage(
        "shell",
        "-c",
        READ,
        STATUSPAGE_NAME="Old",
        KALIX_STATUSPAGE_NAME="New",
        API_PAGE_SIZE="7",
        KALIX_API_PAGE_SIZE="9",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True New 9"
    assert "set KALIX_STATUSPAGE_NAME instead (ignored: it is set too)" in result.stderr


# --- one naming rule, every variable documented --------------------------------------------------


def variables_read() -> dict[str, str | None]:
    """Every variable settings read when they were imported (name -> old name), and scripts/run.py's."""
    import kalix_site.settings

    names = dict(kalix_site.settings.env.names)
    run_py = (ROOT / "scripts" / "run.py").read_text()
    for name, old in re.findall(r'env_vars\.\w+\("(\w+)", [^,)]+(?:, old="(\w+)")?\)', run_py):
        names[name] = old or None
    names.update(dict.fromkeys(re.findall(r'env_seconds\("(\w+)"', run_py)))
    assert {"DEBUG", "KALIX_PUBLIC_URL", "KALIX_STATUSPAGE_NAME", "KALIX_HOST", "KALIX_RUN_DB_STOP_SECONDS"} <= set(
        names
    )
    return names


def test_every_variable_is_kalix_named_or_named_by_its_library():
    wrong = [name for name in variables_read() if not kalix_env.follows_naming_rule(name)]
    assert wrong == []


def test_every_variable_and_every_old_name_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration") :]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration))
    names = variables_read()
    assert sorted(set(names) - documented) == []
    assert sorted({old for old in names.values() if old} - documented) == []
