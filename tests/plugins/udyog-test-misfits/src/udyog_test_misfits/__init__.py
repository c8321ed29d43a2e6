"""Test plugins that are each wrong in one way."""
