"""What the cross-cutting probes walk: every route the resolver knows, and every row of our apps (to
show that a refused request changed nothing)."""


def walk_urls(patterns=None, prefix=""):
    """Every (route, URLPattern) the root resolver knows, with nested prefixes joined."""
    from django.urls import URLResolver, get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from walk_urls(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def snapshot() -> dict[str, list[str]]:
    """Every row of every model of our domain apps, by model, comparable before and after."""
    from django.apps import apps

    ours = [
        m
        for label in ("clinics", "messaging", "billing", "statuspage")
        for m in apps.get_app_config(label).get_models()
    ]
    return {m._meta.label: sorted(map(repr, m.objects.values_list())) for m in ours}
