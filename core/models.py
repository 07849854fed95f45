from django.db import models


class Generation(models.Model):
    """A number every write of `name` changes; cached answers carry it in their keys (core.generations)."""

    name = models.CharField(primary_key=True, max_length=100)
    value = models.BigIntegerField(default=1)

    class Meta:
        db_table = "helpdesk_generation"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
