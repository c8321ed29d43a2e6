"""A package with no hooks, models or migrations."""
