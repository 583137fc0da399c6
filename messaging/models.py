from django.db import models


class LaneHeartbeat(models.Model):
    """The last sign of life of one django-q2 cluster, and the lane it serves."""

    cluster_id = models.CharField(max_length=64, primary_key=True)
    lane = models.CharField(max_length=32, db_index=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField()
    workers = models.PositiveIntegerField()
    status = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["lane", "-seen_at"]

    def __str__(self):
        return f"{self.lane} cluster {self.cluster_id} ({self.workers} workers)"
