// Live preview of a number series' next number while the user types (docs/number-series.md).
// The form works without this script: its "Preview" button posts the form and the page shows the same.
(function () {
  "use strict";
  var form = document.getElementById("series-form");
  if (!form || !window.fetch) {
    return;
  }
  var url = form.getAttribute("data-preview-url");
  var number = document.getElementById("series-preview-number");
  var longest = document.getElementById("series-preview-longest");
  var length = document.getElementById("series-preview-length");
  var okLine = document.getElementById("series-preview-ok");
  var problems = document.getElementById("series-preview-problems");
  var timer = null;
  var latest = 0;

  function label(field) {
    var text = field.replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // Messages of an error envelope: {field: [messages]} or nested ({query: {field: [...]}}).
  function messages(errors, into, prefix) {
    Object.keys(errors || {}).forEach(function (key) {
      var value = errors[key];
      var name = key === "query" || key === "_schema" ? prefix : key;
      if (Array.isArray(value)) {
        value.forEach(function (m) { into.push([name, String(m)]); });
      } else if (value && typeof value === "object") {
        messages(value, into, name);
      } else if (value) {
        into.push([name, String(value)]);
      }
    });
    return into;
  }

  function show(result) {
    problems.replaceChildren();
    result.problems.forEach(function (pair) {
      var item = document.createElement("li");
      item.textContent = pair[0] ? label(pair[0]) + ": " + pair[1] : pair[1];
      problems.appendChild(item);
    });
    number.textContent = result.number || "—";
    longest.textContent = result.longest || "—";
    length.textContent = result.length === null || result.length === undefined ? "" : "(" + result.length + " characters)";
    okLine.classList.toggle("d-none", result.problems.length > 0);
  }

  function refresh() {
    var params = new URLSearchParams();
    ["pattern", "reset", "max_length", "allowed_chars"].forEach(function (name) {
      var input = form.elements.namedItem(name);
      // Empty own limits are left out (the stored ones apply): the "Preview" button shows "no limit" exactly.
      if (input && (input.value !== "" || name === "pattern")) {
        params.set(name, input.value);
      }
    });
    var ticket = ++latest;
    fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (answer) {
        if (ticket !== latest) {
          return; // an older answer arriving late
        }
        if (answer.status === 200 && answer.body.data) {
          var data = answer.body.data;
          show({
            number: data.number,
            longest: data.compliance.longest,
            length: data.compliance.length,
            problems: messages(data.compliance.errors, [], ""),
          });
        } else if (answer.status === 422) {
          var found = messages(answer.body.errors, [], "");
          if (!found.length) {
            found.push(["", answer.body.message || "invalid settings"]);
          }
          show({ number: null, longest: null, length: null, problems: found });
        }
        form.setAttribute("data-preview-done", String(ticket));
      })
      .catch(function () { /* offline or logged out: the Preview button still works */ });
  }

  function later() {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(refresh, 250);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
