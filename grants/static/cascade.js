// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  function countWords(text) {
    return text.split(/\s+/).filter(function (t) { return /[\p{L}\p{N}]/u.test(t); }).length;
  }

  // Word counters for long answers with a word limit.
  document.querySelectorAll("textarea[data-max-words]").forEach(function (area) {
    var max = parseInt(area.getAttribute("data-max-words"), 10);
    var counter = document.querySelector('[data-counter-for="' + area.id + '"]');
    if (!counter) { return; }
    function update() {
      var n = countWords(area.value);
      counter.textContent = n + " of " + max + " words" + (n > max ? " (" + (n - max) + " too many)" : "");
      counter.classList.toggle("over", n > max);
    }
    area.addEventListener("input", update);
    update();
  });

  // Confirm before actions that cannot be undone.
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // On the draft form: say that submission sends the last saved version.
  var draft = document.querySelector("form[data-unsaved-warning]");
  if (draft) {
    var dirty = false;
    var note = document.querySelector(".unsaved-note");
    draft.addEventListener("input", function () {
      dirty = true;
      if (note) { note.hidden = false; }
    });
    draft.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
  }

  // Bring the error summary into view and focus so it is read first.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) { summary.focus(); }
})();
