"""Test support: what more than one app's tests (and the benchmarks) use, in one place.

- `fixtures/`: the shared pytest fixtures, one module a subject, registered by the root conftest.py's
  `pytest_plugins` (so every test sees them, and none imports a fixture by path);
- helper modules the tests and benchmarks import: `processes` (clusters, child processes, wait_for,
  free ports), `migration_data`, `seed` (synthetic messages), `invoices` (bulk ready invoices),
  `ledger` (the fault ledger), `probes` (every URL, every row), `concurrency` (racing requests);
- `settings`: the test settings pytest-django loads.

Nothing in a production package imports from here (tests/test_test_support_layout.py checks it).
"""
