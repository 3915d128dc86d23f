// Shows a deadline in the visitor's own timezone next to the call's. Without JavaScript the
// page still shows the call's timezone and UTC, which is what the server decides by.
(function () {
  "use strict";
  function show() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    document.querySelectorAll("[data-visitor-time]").forEach(function (el) {
      var when = new Date(el.getAttribute("data-visitor-time"));
      if (isNaN(when.getTime())) { return; }
      var text = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      }).format(when);
      el.textContent = text + " (" + zone + ")";
      el.closest("[data-visitor-row]").hidden = false;
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", show);
  } else {
    show();
  }
})();
