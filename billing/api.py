def register(router) -> None:
    """Register this app's viewsets under /api/v1/."""
