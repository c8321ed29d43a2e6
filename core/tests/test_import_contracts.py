"""Every plugin package is held to the import contract (plugins use only udyog_sdk)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plugin_packages() -> set[str]:
    found = set()
    for parent in ("plugins", "tests/plugins"):
        for src in (ROOT / parent).glob("*/src"):
            found |= {p.name for p in src.iterdir() if (p / "__init__.py").exists() and p.name.startswith("udyog_")}
    return found


def test_every_plugin_package_is_under_the_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["name"].startswith("Plugins import only"))
    packages = plugin_packages()
    assert "udyog_test_notes" in packages
    assert packages <= set(contract["source_modules"]), "add new plugin packages to the import contract"
    assert packages <= set(config["root_packages"])
    assert contract["forbidden_modules"] == ["udyog"]
