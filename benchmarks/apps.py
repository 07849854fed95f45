from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Benchmark commands and their generated data: above every other layer, used by `make bench*` only."""

    name = "benchmarks"
