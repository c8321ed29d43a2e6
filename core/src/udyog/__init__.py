"""Udyog — the kernel of a plugin-based ERP.

Public entry points: :func:`udyog.app.create_app` (the WSGI application) and
:class:`udyog.kernel.Kernel` (the application-independent runtime used by the
app, the CLI and workers). Plugins do not import this package; they use
``udyog_sdk``.
"""

__version__ = "0.1.0"
