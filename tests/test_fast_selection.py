"""`make test-fast` (-m "not browser and not cluster") leaves out every test that drives Chromium or
starts a django-q2 cluster, also one whose author forgot the marker: the root conftest marks tests by
the fixtures they use."""

import sys


class Item:
    def __init__(self, *fixtures):
        self.fixturenames = fixtures
        self.marks = set()

    def add_marker(self, mark):
        self.marks.add(mark.name)


def test_tests_are_marked_by_the_browser_and_cluster_fixtures_they_use():
    root_conftest = sys.modules["conftest"]  # the top-level conftest.py, loaded by pytest itself
    page, cluster, both, plain = Item("page", "db"), Item("lane_cluster"), Item("login", "lane_cluster"), Item("db")
    root_conftest.pytest_collection_modifyitems(None, [page, cluster, both, plain])
    assert page.marks == {"browser"} and cluster.marks == {"cluster"}
    assert both.marks == {"browser", "cluster"} and plain.marks == set()
