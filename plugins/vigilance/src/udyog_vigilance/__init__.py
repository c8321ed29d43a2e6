"""The Udyog plugin ``vigilance``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="vigilance",
    version="0.1.0",
    title="Vigilance",
    package=__name__,
    sdk=">=1.3,<2",
    description=(
        "Rules contributed by plugins, evaluated in the background on domain events and schedules; de-duplicated"
        " alerts with severity, state, assignee and a link to the record; per-tenant rule settings; notifications."
    ),
)
