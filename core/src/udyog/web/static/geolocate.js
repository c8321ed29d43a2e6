// The shell's geolocation for any page with a form marked data-geolocate (crm's
// visit check-in, hr's attendance check-in): ask the browser for its position
// and put it into the form's hidden inputs gps_latitude, gps_longitude and
// gps_accuracy_m, saying so in #geo-status (its data-locating, data-found and
// data-refused texts). Inputs #latitude and #longitude, where the page has
// them, are typed coordinates: once the user types, the browser's position is
// dropped. Without this script the form is submitted as it stands.
(function () {
  "use strict";
  var form = document.querySelector("form[data-geolocate]");
  if (!form || !("geolocation" in navigator)) {
    return;
  }
  var status = document.getElementById("geo-status");
  var lat = document.getElementById("gps_latitude");
  var lon = document.getElementById("gps_longitude");
  var acc = document.getElementById("gps_accuracy_m");

  function say(template, values) {
    if (!status || !template) {
      return;
    }
    var text = template;
    Object.keys(values).forEach(function (key) {
      text = text.split("{" + key + "}").join(values[key]);
    });
    status.textContent = text;
  }

  say(status && status.dataset.locating, {});
  navigator.geolocation.getCurrentPosition(
    function (position) {
      var c = position.coords;
      lat.value = c.latitude.toFixed(6);
      lon.value = c.longitude.toFixed(6);
      acc.value = typeof c.accuracy === "number" && c.accuracy >= 0 ? Math.min(c.accuracy, 99999).toFixed(2) : "";
      say(status.dataset.found, { lat: lat.value, lon: lon.value, acc: acc.value || "?" });
    },
    function (error) {
      lat.value = "";
      lon.value = "";
      acc.value = "";
      say(status.dataset.refused, { reason: error.message || String(error.code) });
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
  );

  // Typed coordinates win: once the user types, the browser's position is dropped.
  ["latitude", "longitude"].forEach(function (id) {
    var input = document.getElementById(id);
    if (input) {
      input.addEventListener("input", function () {
        if (input.value.trim() !== "") {
          lat.value = "";
          lon.value = "";
          acc.value = "";
        }
      });
    }
  });
})();
