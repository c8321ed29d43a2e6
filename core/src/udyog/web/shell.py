"""The pieces of the web shell: the menu, the per-request shell context, error pages.

Every path outside ``/api/`` belongs to the web UI. There, errors are pages in
the shell's style instead of JSON envelopes: a missing or dead login (401)
redirects to the login page (through a silent token refresh when a refresh
cookie is present), other statuses render ``udyog/error.html``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, make_response, redirect, render_template, request, url_for
from flask_jwt_extended import get_jwt
from markupsafe import Markup

from udyog.web.i18n import gettext as _
from udyog_sdk import Principal, TenantContext
from udyog_sdk.runtime import NoScopeError, current_scope
from udyog_sdk.ui import MenuEntry

log = logging.getLogger("udyog.web")

#: Paths under this prefix are the JSON API; everything else is the web UI.
API_PREFIX = "/api"

#: Headers of every HTML page: nothing is loaded from elsewhere, nothing frames us.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def error_title(status: int) -> str:
    """The heading of an error page for ``status``, in the shell's language."""
    titles = {
        400: _("Bad request"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Not allowed here"),
        409: _("Conflict"),
        422: _("Invalid input"),
        429: _("Too many attempts"),
        500: _("Something went wrong"),
    }
    return titles.get(status) or _("Error")


def is_page_request() -> bool:
    """Whether the current request is for the web UI (any path outside ``/api/``)."""
    path = request.path
    return not (path == API_PREFIX or path.startswith(API_PREFIX + "/"))


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path of this site (``/x?y``), else ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


@functools.lru_cache(maxsize=4096)
def is_local_path(url: str) -> bool:
    """Whether a menu URL is a path of this site (not another host, not ``javascript:``).

    Asked for every menu entry on every page, of the same few URLs: the
    answers are kept (it depends on the string alone).
    """
    return safe_next(url, default="") == url


# -- the menu ------------------------------------------------------------------


@dataclass
class MenuNode:
    """A visible menu entry with its visible children, in display order."""

    entry: MenuEntry
    plugin: str
    children: list[MenuNode] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The entry's key."""
        return self.entry.key

    @property
    def label(self) -> str:
        """The entry's label, in the shell's language when a catalogue translates it (docs/locale.md)."""
        from udyog.web.i18n import gettext

        return gettext(self.entry.label)

    @property
    def url(self) -> str:
        """The entry's path ("" for a group without a page of its own)."""
        return self.entry.url

    @property
    def icon(self) -> str | None:
        """A Bootstrap Icons name (``house``), if any."""
        return self.entry.icon

    def contains(self, path: str) -> bool:
        """Whether this entry or one of its children is the page at ``path``."""
        return self.url == path or any(child.contains(path) for child in self.children)

    @property
    def has_badge(self) -> bool:
        """Whether this entry, or one of its descendants, declares a ``badge``."""
        return self.entry.badge is not None or any(child.has_badge for child in self.children)

    @cached_property
    def badge(self) -> int:
        """The entry's count: its own ``badge``, else the sum of its children's (0: none to show)."""
        own = badge_count(self.entry, self.plugin)
        if own is not None:
            return own
        return sum(child.badge for child in self.children if child.has_badge)


def badge_count(entry: MenuEntry, plugin: str) -> int | None:
    """What ``entry.badge()`` answers, as a count ≥ 0; None without a badge or when it fails (logged)."""
    if entry.badge is None:
        return None
    try:
        value = entry.badge()
    except Exception:
        log.exception("plugin %s: the badge of menu entry %r failed", plugin, entry.key)
        return None
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        log.warning("plugin %s: the badge of menu entry %r returned %r, not a count", plugin, entry.key, value)
        return None


def menu_badges(nodes: Iterable[MenuNode]) -> dict[str, int]:
    """Menu key → count of every visible entry that shows a badge (groups: their children's sum)."""
    out: dict[str, int] = {}
    for node in nodes:
        if node.has_badge:
            out[node.key] = node.badge
            out.update(menu_badges(node.children))
    return out


def collect_menu(relay: Any) -> list[tuple[str, MenuEntry]]:
    """Call ``udyog_menu`` on every plugin of ``relay``, one at a time.

    A plugin whose implementation raises, or returns something other than
    :class:`MenuEntry` objects or a URL that is no path of this site, loses
    those entries (logged); the rest of the menu still renders.
    """
    out: list[tuple[str, MenuEntry]] = []
    for impl in relay.udyog_menu.get_hookimpls():
        try:
            entries = impl.function()
        except Exception:
            log.exception("plugin %s: udyog_menu failed", impl.plugin_name)
            continue
        for entry in entries or ():
            if not isinstance(entry, MenuEntry):
                log.warning("plugin %s: udyog_menu returned %r, not a MenuEntry", impl.plugin_name, entry)
            elif entry.url and not is_local_path(entry.url):
                log.warning(
                    "plugin %s: menu entry %r links outside the site: %r", impl.plugin_name, entry.key, entry.url
                )
            else:
                out.append((impl.plugin_name, entry))
    return out


def build_menu(entries: Iterable[tuple[str, MenuEntry]], principal: Principal) -> list[MenuNode]:
    """The menu tree ``principal`` sees.

    Entries are kept when the principal holds their permission (``None``: any
    logged-in user), sorted by weight then label, and nested under their
    ``parent``. An entry whose parent is not visible (no permission, plugin
    disabled, unknown key, a cycle) is shown at the top level; a group with no
    page of its own (``url=""``) and no visible children is dropped. A key
    seen twice keeps its first entry in display order.
    """
    visible = [(p, e) for p, e in entries if e.permission is None or principal.can(e.permission)]
    visible.sort(key=lambda pe: (pe[1].weight, pe[1].label.casefold(), pe[1].key))
    nodes: dict[str, MenuNode] = {}
    for plugin, entry in visible:
        if entry.key in nodes:
            log.warning("menu key %r is contributed twice (%s and %s)", entry.key, nodes[entry.key].plugin, plugin)
            continue
        nodes[entry.key] = MenuNode(entry, plugin)

    def parent_of(node: MenuNode) -> MenuNode | None:
        parent = nodes.get(node.entry.parent) if node.entry.parent else None
        seen = {node.key}
        ancestor = parent
        while ancestor is not None:  # attaching must not close a cycle
            if ancestor.key in seen:
                return None
            seen.add(ancestor.key)
            ancestor = nodes.get(ancestor.entry.parent) if ancestor.entry.parent else None
        return parent

    roots: list[MenuNode] = []
    for node in nodes.values():
        parent = parent_of(node)
        (parent.children if parent is not None else roots).append(node)

    def prune(level: list[MenuNode]) -> list[MenuNode]:
        kept = []
        for node in level:
            node.children = prune(node.children)
            if node.url or node.children:
                kept.append(node)
        return kept

    return prune(roots)


# -- the rendered menu, cached ----------------------------------------------------------

#: ``app.extensions`` key of the app's :class:`MenuCache`.
MENU_CACHE = "udyog.menu_cache"
#: How many rendered menus an app keeps (least recently used dropped first).
MENU_CACHE_SIZE = 512

MenuKey = tuple[Hashable, ...]


def menu_signature(nodes: Iterable[MenuNode]) -> tuple[Any, ...]:
    """What the navbar's HTML of ``nodes`` is made of, as a hashable tree.

    Each node contributes its key, untranslated label, URL, icon, whether it
    shows a badge, and its children's signature: everything the menu macros
    read from a node, except the badge's count and the label's translation
    (the cache key holds those separately: :func:`menu_cache_key`).
    """
    return tuple(
        (node.key, node.entry.label, node.url, node.icon, node.has_badge, menu_signature(node.children))
        for node in nodes
    )


def menu_urls(nodes: Iterable[MenuNode]) -> set[str]:
    """Every page URL in the menu tree ``nodes``."""
    out: set[str] = set()
    for node in nodes:
        if node.url:
            out.add(node.url)
        out |= menu_urls(node.children)
    return out


def menu_cache_key(nodes: list[MenuNode], *, language: str, path: str, badges: dict[str, int]) -> MenuKey:
    """The key of the navbar's HTML for ``nodes`` shown on the page at ``path``.

    It holds every input of the menu macros: the tree (:func:`menu_signature`,
    so the tenant's enabled plugins and the user's permissions count through
    the entries they let through, whatever a plugin's ``udyog_menu`` depends
    on), the language the labels are translated to, the badges' counts, and
    the entry the page is (``path`` when a menu entry links to it, else None:
    every page outside the menu shares one rendering with no active entry).
    """
    active = path if path in menu_urls(nodes) else None
    return (language, menu_signature(nodes), active, tuple(sorted(badges.items())))


class MenuCache:
    """Rendered navbar menus by :func:`menu_cache_key`, at most ``size`` of them (least recently used go first).

    One per app (``app.extensions[MENU_CACHE]``): the templates that render
    the menu are the app's. Nothing is ever invalidated: a change of any
    input (a plugin enabled, a role's permissions, the language, a badge's
    count, the page) is a different key.
    """

    def __init__(self, size: int = MENU_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[MenuKey, Markup] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: MenuKey) -> Markup | None:
        """The menu rendered for ``key``, if kept (it becomes the most recently used)."""
        with self._lock:
            html = self._entries.get(key)
            if html is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return html

    def put(self, key: MenuKey, html: Markup) -> None:
        """Keep ``html`` for ``key``, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._entries[key] = html
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every rendered menu."""
        with self._lock:
            self._entries.clear()


def render_menu(nodes: list[MenuNode]) -> Markup:
    """The navbar's ``<li>`` items of ``nodes`` for the current request (``udyog/_menu.html``), never cached."""
    return Markup(render_template("udyog/_menu.html", nodes=nodes))


# -- the shell context -----------------------------------------------------------


class Shell:
    """What every page's layout shows, computed lazily once per request.

    Outside a tenant scope (the login page, errors before authentication)
    ``user`` and ``tenant`` are None and the menu is empty.
    """

    @cached_property
    def _scope(self) -> Any:
        try:
            return current_scope()
        except NoScopeError:
            return None

    @cached_property
    def tenant(self) -> TenantContext | None:
        """The tenant the user acts for."""
        return self._scope.tenant if self._scope is not None else None

    @cached_property
    def user(self) -> Principal | None:
        """The logged-in user."""
        return self._scope.user if self._scope is not None else None

    @cached_property
    def menu(self) -> list[MenuNode]:
        """The menu of the tenant's enabled plugins, filtered by the user's permissions."""
        if self._scope is None or self.user is None:
            return []
        return build_menu(collect_menu(self._scope.hooks), self.user)

    @cached_property
    def menu_html(self) -> Markup:
        """The navbar's menu items: :func:`render_menu` of :attr:`menu`, from the app's :class:`MenuCache`.

        Rendering the menu's macros costs about a millisecond a page; the
        same user of the same tenant sees the same menu on every page but
        the one that marks its own entry as active.
        """
        nodes = self.menu
        if not nodes:
            return Markup("")
        cache: MenuCache | None = current_app.extensions.get(MENU_CACHE)
        if cache is None:
            return render_menu(nodes)
        from udyog.web.i18n import current_language

        key = menu_cache_key(nodes, language=current_language(), path=request.path, badges=self.badges)
        html = cache.get(key)
        if html is None:
            html = render_menu(nodes)
            cache.put(key, html)
        return html

    @cached_property
    def has_badges(self) -> bool:
        """Whether some visible menu entry shows a count (the page then loads ``badges.js``)."""
        return any(node.has_badge for node in self.menu)

    @cached_property
    def badges(self) -> dict[str, int]:
        """Menu key → count of the visible entries with a badge (what ``GET /core/menu/badges`` answers)."""
        return menu_badges(self.menu)

    @cached_property
    def tenants(self) -> list[dict[str, Any]]:
        """The tenants the user may switch to (``id``, ``slug``, ``name``, ``current``)."""
        from udyog import auth

        if self.user is None:
            return []
        kernel = current_app.extensions["udyog"]
        return [
            {"id": t.id, "slug": t.slug, "name": t.name, "current": t.id == self.user.tenant_id}
            for t in auth.tenants_of(kernel, self.user.user_id)
        ]

    @cached_property
    def unread_notifications(self) -> int:
        """How many of the user's in-app notifications are unread (the navbar's badge)."""
        from udyog.notifications import unread_count

        if self.user is None:
            return 0
        return unread_count(self._scope.session, self.user.user_id)

    @cached_property
    def csrf_token(self) -> str:
        """The CSRF double-submit value forms send back as ``csrf_token``."""
        try:
            value = get_jwt().get("csrf")
        except RuntimeError:  # no token was verified in this request
            value = None
        return str(value or request.cookies.get(current_app.config["JWT_ACCESS_CSRF_COOKIE_NAME"], ""))


def shell() -> Shell:
    """The shell context of the current request."""
    if "udyog_shell" not in g:
        g.udyog_shell = Shell()
    return g.udyog_shell


# -- errors as pages -------------------------------------------------------------------


def _back_here() -> str:
    """Where to return after logging in: this page for GET, the home page otherwise."""
    if request.method not in ("GET", "HEAD"):
        return "/"
    if request.endpoint == "web.refresh":
        return safe_next(request.args.get("next"))
    query = request.query_string.decode("latin-1")
    return safe_next(f"{request.path}?{query}" if query else request.path)


def login_redirect() -> Response:
    """Send the browser to log in (or first to refresh its access token) and back here."""
    target = _back_here()
    refresh_cookie = current_app.config["JWT_REFRESH_COOKIE_NAME"]
    if request.method in ("GET", "HEAD") and request.endpoint != "web.refresh" and request.cookies.get(refresh_cookie):
        return redirect(url_for("web.refresh", next=target))
    return redirect(url_for("web.login", next=target))


def render_error(status: int, message: str) -> Response:
    """An error page in the shell's style."""
    html = render_template(
        "udyog/error.html",
        status=status,
        title=error_title(status),
        message=message,
    )
    return make_response(html, status)


def error_page(status: int, message: str) -> tuple[Response, int] | None:
    """The web UI's answer to an error, or None for API requests (which get JSON).

    Installed as ``app.extensions["udyog.error_page"]``; the app's error
    handlers consult it before building a JSON envelope.
    """
    if not is_page_request():
        return None
    try:
        if status == 401:
            return login_redirect(), 302
        return render_error(status, message), status
    except Exception:  # an error page must never fail: fall back to JSON
        log.exception("could not render the error page for %s %s", status, request.path)
        return None


def add_page_headers(response: Response) -> Response:
    """Security and caching headers for HTML pages of the web UI."""
    if is_page_request() and response.mimetype == "text/html":
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def install(app: Flask) -> None:
    """Wire the shell into ``app``: local Bootstrap assets, error pages, page headers, context."""
    from flask_bootstrap import Bootstrap5

    app.config["BOOTSTRAP_SERVE_LOCAL"] = True  # never a CDN: LAN and offline deployments
    Bootstrap5(app)
    _install_sdk_templates(app)
    app.extensions["udyog.error_page"] = error_page
    app.extensions[MENU_CACHE] = MenuCache()
    app.after_request(add_page_headers)
    app.context_processor(lambda: {"shell": shell()})
    install_filters(app)
    from udyog.web import i18n

    i18n.install(app)


def install_filters(app: Flask) -> None:
    """The locale filters every template may use (docs/locale.md).

    ``{{ value|amount }}`` → ``₹1,23,45,678.00``, ``{{ value|number }}`` →
    ``1,23,45,678.5`` (``number(2)`` for two places), ``{{ value|date }}`` →
    ``31 Mar 2026`` (``date("short")``), ``{{ value|amount_in_words }}``. Each
    follows the tenant's locale, and shows None as an empty string.
    """
    from udyog_sdk import formatting

    def _none_safe(func: Any) -> Any:
        def apply(value: Any, *args: Any, **kwargs: Any) -> str:
            return "" if value is None or value == "" else func(value, *args, **kwargs)

        apply.__doc__ = func.__doc__
        return apply

    app.add_template_filter(_none_safe(formatting.format_amount), "amount")
    app.add_template_filter(
        _none_safe(lambda value, places=None: formatting.format_number(value, places=places)), "number"
    )
    app.add_template_filter(
        _none_safe(lambda value, style="medium": formatting.format_date(value, style=style)), "date"
    )
    app.add_template_filter(_none_safe(formatting.amount_in_words), "amount_in_words")


def _install_sdk_templates(app: Flask) -> None:
    """Make the SDK's templates (dashboard widgets, resource pages) findable, once per app."""
    from flask import Blueprint

    from udyog_sdk.resources import TEMPLATE_FOLDER

    name = "udyog_sdk_templates"  # the name the SDK's resource pages register it under
    if name not in app.blueprints:
        app.register_blueprint(Blueprint(name, "udyog_sdk", template_folder=TEMPLATE_FOLDER))
