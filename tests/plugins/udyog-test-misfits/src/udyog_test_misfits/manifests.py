"""Manifests of the misfit plugins."""

from udyog_sdk import Plugin

_PKG = "udyog_test_misfits"

needsghost = Plugin(
    name="needsghost",
    version="0.1.0",
    title="Needs a plugin that does not exist",
    package=_PKG + ".empty",
    requires=("ghost>=1.0",),
)
cycle_a = Plugin(name="cycle_a", version="0.1.0", title="Cycle A", package=_PKG + ".empty", requires=("cycle_b",))
cycle_b = Plugin(name="cycle_b", version="0.1.0", title="Cycle B", package=_PKG + ".empty", requires=("cycle_a",))
aftercycle = Plugin(
    name="aftercycle",
    version="0.1.0",
    title="Requires a plugin in a cycle",
    package=_PKG + ".empty",
    requires=("cycle_a",),
)
dependant = Plugin(
    name="dependant", version="0.1.0", title="Requires the broken plugin", package=_PKG + ".empty", requires=("broken",)
)
oldsdk = Plugin(name="oldsdk", version="0.1.0", title="Targets SDK 0.x", package=_PKG + ".empty", sdk=">=0.1,<1")
newnotes = Plugin(
    name="newnotes", version="0.1.0", title="Requires notes 9", package=_PKG + ".empty", requires=("notes>=9",)
)
badhook = Plugin(
    name="badhook",
    version="0.1.0",
    title="Implements a hook nobody specifies",
    package=_PKG + ".empty",
    hooks=_PKG + ".badhook_hooks",
)
badroutes = Plugin(
    name="badroutes",
    version="0.1.0",
    title="Its blueprint hook raises",
    package=_PKG + ".empty",
    hooks=_PKG + ".badroutes_hooks",
)
routesuser = Plugin(
    name="routesuser", version="0.1.0", title="Requires badroutes", package=_PKG + ".empty", requires=("badroutes",)
)
not_a_manifest = {"name": "notamanifest"}
