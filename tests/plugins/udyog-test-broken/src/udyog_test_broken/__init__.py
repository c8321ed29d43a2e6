"""Test plugin ``broken``: importing it fails."""

raise RuntimeError("broken on purpose")
