/* Live counts beside menu entries (udyog_sdk.ui.MenuEntry.badge).
 *
 * The shell renders each count as <span data-menu-badge="KEY">; this script asks
 * the URL in its data-url attribute (GET /core/menu/badges) every data-interval
 * seconds for {"badges": {KEY: count}} and updates the spans in place: a count of 0
 * hides its span. It polls only while the page is visible, and once at once when the
 * page becomes visible again. No third-party code, no page reload.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.getElementById("udyog-badges-script");
  if (!script || !window.fetch) { return; }
  var url = script.getAttribute("data-url");
  var seconds = parseInt(script.getAttribute("data-interval") || "30", 10);
  var period = Math.max(5, isNaN(seconds) ? 30 : seconds) * 1000;
  var timer = null;

  function apply(badges) {
    var spans = document.querySelectorAll("[data-menu-badge]");
    for (var i = 0; i < spans.length; i++) {
      var key = spans[i].getAttribute("data-menu-badge");
      if (!Object.prototype.hasOwnProperty.call(badges, key)) { continue; }
      var count = parseInt(badges[key], 10) || 0;
      spans[i].textContent = String(count);
      spans[i].classList.toggle("d-none", count <= 0);
    }
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body && body.badges) { apply(body.badges); } })
      .catch(function () { /* offline or logged out: keep the last counts */ });
  }

  function schedule() {
    if (timer !== null) { window.clearInterval(timer); timer = null; }
    if (!document.hidden) { timer = window.setInterval(refresh, period); }
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
    schedule();
  });
  schedule();
})();
