// The shell's reference picker, for every input marked data-reference-picker
// (udyog_sdk's reference fields: a reference to a table with more records than
// a select can list). Without this script the input is a text box holding the
// record's id. With it, the input becomes an ARIA combobox: typing searches
// data-url (GET ?q=, JSON [{"id", "label"}]) after a pause, the arrow keys move
// through the listbox of matches, Enter or a click chooses one, Escape closes
// the list (a second Escape puts back the chosen record's label). The chosen id
// goes into a hidden input carrying the field's name; the visible box only
// searches. A field marked data-nullable is cleared by emptying the box; any
// other text left in the box when it loses focus is replaced by the chosen
// record's label, so what is sent is always the record shown.
(function () {
  "use strict";
  var DELAY = 250;

  function format(template, values) {
    var text = template || "";
    Object.keys(values).forEach(function (key) {
      text = text.split("{" + key + "}").join(values[key]);
    });
    return text;
  }

  function setup(input) {
    if (input.dataset.pickerReady) {
      return;
    }
    input.dataset.pickerReady = "1";
    var url = input.dataset.url;
    var nullable = input.hasAttribute("data-nullable");
    var baseId = input.id || "reference-" + Math.random().toString(36).slice(2);
    var listId = baseId + "-listbox";

    // The value sent: a hidden input with the field's name; the visible box searches.
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = input.name;
    hidden.value = input.value.trim();
    hidden.id = baseId + "-value";
    input.removeAttribute("name");
    input.parentNode.insertBefore(hidden, input);
    var chosenLabel = hidden.value ? input.dataset.label || hidden.value : "";
    input.value = chosenLabel;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.parentNode.classList.add("position-relative");

    var hint = document.getElementById(baseId + "-hint");
    if (hint && hint.dataset.jsHint) {
      hint.textContent = hint.dataset.jsHint;
    }

    var list = document.createElement("ul");
    list.id = listId;
    list.setAttribute("role", "listbox");
    list.className = "list-group position-absolute w-100 shadow-sm overflow-auto";
    list.style.zIndex = "1050";
    list.style.maxHeight = "18rem";
    list.hidden = true;
    var label = input.id ? document.querySelector('label[for="' + input.id + '"]') : null;
    if (label) {
      if (!label.id) {
        label.id = baseId + "-label";
      }
      list.setAttribute("aria-labelledby", label.id);
    }
    input.insertAdjacentElement("afterend", list);

    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    list.insertAdjacentElement("afterend", status);

    var options = [];
    var active = -1;
    var timer = null;
    var asked = 0;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      if (!options.length) {
        return;
      }
      active = (index + options.length) % options.length;
      Array.prototype.forEach.call(list.children, function (item, i) {
        var on = i === active;
        item.classList.toggle("active", on);
        item.setAttribute("aria-selected", on ? "true" : "false");
        if (on) {
          input.setAttribute("aria-activedescendant", item.id);
          item.scrollIntoView({ block: "nearest" });
        }
      });
    }

    function choose(index) {
      var option = options[index];
      if (!option) {
        return;
      }
      hidden.value = option.id;
      chosenLabel = option.label;
      input.value = option.label;
      input.classList.remove("is-invalid");
      close();
      hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function show(found) {
      options = found;
      list.textContent = "";
      found.forEach(function (option, i) {
        var item = document.createElement("li");
        item.id = listId + "-" + i;
        item.className = "list-group-item list-group-item-action";
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.id = option.id;
        item.textContent = option.label;
        item.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the box
          choose(i);
        });
        list.appendChild(item);
      });
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "list-group-item text-body-secondary";
        none.setAttribute("aria-disabled", "true");
        none.textContent = input.dataset.empty || "";
        list.appendChild(none);
      }
      active = -1;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      input.removeAttribute("aria-activedescendant");
      status.textContent = found.length
        ? format(input.dataset.results, { count: String(found.length) })
        : input.dataset.empty || "";
    }

    function search() {
      var text = input.value.trim();
      var mine = ++asked;
      var target = url + (url.indexOf("?") >= 0 ? "&" : "?") + "q=" + encodeURIComponent(text);
      fetch(target, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) {
              throw new Error((body && body.message) || String(response.status));
            }
            return body;
          });
        })
        .then(function (found) {
          if (mine === asked && document.activeElement === input) {
            show(Array.isArray(found) ? found : []);
          }
        })
        .catch(function (error) {
          if (mine === asked) {
            close();
            status.textContent = format(input.dataset.failed, { reason: error.message });
          }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, DELAY);
    }

    input.addEventListener("input", function () {
      if (input.value.trim() === "" && nullable) {
        hidden.value = "";
        chosenLabel = "";
      }
      later();
    });

    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (open && options.length) {
          highlight(active + 1);
        } else {
          window.clearTimeout(timer);
          search();
        }
      } else if (event.key === "ArrowUp") {
        if (open && options.length) {
          event.preventDefault();
          highlight(active - 1);
        }
      } else if (event.key === "Enter") {
        if (open) {
          event.preventDefault(); // Enter chooses; it does not submit the form
          if (active >= 0) {
            choose(active);
          }
        }
      } else if (event.key === "Escape") {
        if (open) {
          event.preventDefault();
          close();
        } else if (input.value !== chosenLabel) {
          event.preventDefault();
          input.value = chosenLabel;
        }
      } else if (event.key === "Tab") {
        close();
      }
    });

    input.addEventListener("blur", function () {
      window.clearTimeout(timer);
      asked++; // an answer arriving now is not shown
      close();
      if (input.value.trim() === "" && nullable) {
        hidden.value = "";
        chosenLabel = "";
        input.value = "";
      } else {
        input.value = chosenLabel; // what is sent is the record shown
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-reference-picker]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
