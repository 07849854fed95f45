"""How long a permission answer may be kept: R108's 20 days; every write forgets it sooner."""

CACHE_TTL = 20 * 24 * 3600
