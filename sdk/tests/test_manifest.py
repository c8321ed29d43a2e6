"""The Plugin manifest validates what a plugin declares about itself."""

from __future__ import annotations

import pytest

from udyog_sdk import SDK_VERSION, Plugin
from udyog_sdk.manifest import ManifestError


def test_defaults_are_derived_from_the_package():
    plugin = Plugin(name="notes", version="0.3.0", title="Notes", package="udyog_test_notes")
    assert plugin.module_name("hooks") == "udyog_test_notes.hooks"
    assert plugin.module_name("hookspecs") == "udyog_test_notes.hookspecs"
    assert plugin.migrations_dir().name == "migrations"
    assert Plugin(name="tags", version="1", title="T", package="udyog_test_tags").module_name("hookspecs") is None


def test_requirements_are_parsed():
    plugin = Plugin(name="gst", version="1.0", title="GST", package="x", requires=("sales>=1.2,<2", "crm"))
    assert plugin.required_names == ("crm", "sales")
    assert str(plugin.requirements[0].specifier) == "<2,>=1.2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "lower case"),
        ({"name": "x"}, "lower case"),
        ({"version": "one"}, "invalid version"),
        ({"sdk": "~~1"}, "invalid sdk range"),
        ({"requires": ("crm >>> 1",)}, "invalid requirement"),
    ],
)
def test_bad_manifests_are_refused_with_the_reason(kwargs, message):
    values = {"name": "good", "version": "1.0", "title": "Good", "package": "good"} | kwargs
    with pytest.raises(ManifestError, match=message):
        Plugin(**values)


def test_sdk_version_is_semver():
    major, minor, patch = SDK_VERSION.split(".")
    assert int(major) >= 1 and minor.isdigit() and patch.isdigit()
