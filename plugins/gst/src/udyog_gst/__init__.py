"""The Udyog plugin ``gst``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="gst",
    version="0.1.0",
    title="GST",
    package=__name__,
    sdk=">=1.2,<2",
    requires=("sales>=0.1",),
    description=(
        "GSTIN and PAN on branches and customers, HSN codes and dated rates on products, CGST+SGST/UTGST or "
        "IGST on every sales line, rule 46 invoice numbers, the tax invoice PDF and GSTR-1."
    ),
)
