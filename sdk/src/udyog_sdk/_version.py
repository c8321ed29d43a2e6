"""The version of the plugin API this SDK provides (semantic versioning)."""

SDK_VERSION = "1.7.0"
