// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  function countWords(text) {
    return text.split(/\s+/).filter(function (t) { return /[\p{L}\p{N}]/u.test(t); }).length;
  }

  // Word counters for long answers with a word limit.
  function wordCounters(root) {
    root.querySelectorAll("textarea[data-max-words]").forEach(function (area) {
      var max = parseInt(area.getAttribute("data-max-words"), 10);
      var counter = root.querySelector('[data-counter-for="' + area.id + '"]');
      if (!counter) { return; }
      function update() {
        var n = countWords(area.value);
        counter.textContent = n + " of " + max + " words" + (n > max ? " (" + (n - max) + " too many)" : "");
        counter.classList.toggle("over", n > max);
      }
      area.addEventListener("input", update);
      update();
    });
  }
  wordCounters(document);

  // Confirm before actions that cannot be undone.
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // A confirmation that says how many are selected: the button's data-confirm-template has
  // "{n}" where the number of ticked boxes named data-confirm-count goes.
  document.querySelectorAll("[data-confirm-template]").forEach(function (button) {
    var form = button.form;
    var name = button.getAttribute("data-confirm-count");
    function update() {
      var n = form.querySelectorAll('input[name="' + name + '"]:checked').length;
      button.setAttribute("data-confirm", button.getAttribute("data-confirm-template").replace("{n}", n));
    }
    form.addEventListener("change", update);
    update();
  });

  // A page following work in the background reloads itself while the work goes on.
  var refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    window.setTimeout(function () { window.location.reload(); },
      1000 * parseInt(refresh.getAttribute("data-refresh-seconds"), 10));
  }

  // -- Repeatable groups (budget lines, work packages): add and remove lines, live totals. --
  function cents(text) {
    var m = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text || "");
    if (!m) { return null; }
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function number(text) {
    var m = /^\s*-?\d+(?:\.\d+|,\d{1,2})?\s*$/.exec(text || "");
    return m ? parseFloat(text.replace(",", ".")) : null;
  }
  function eur(c) {
    return "EUR " + (c / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function updateTotals(group) {
    group.querySelectorAll("output[data-total-of]").forEach(function (out) {
      var name = out.getAttribute("data-total-of");
      var money = out.getAttribute("data-total-kind") === "money";
      var sum = 0;
      group.querySelectorAll("[data-group-items] [name]").forEach(function (input) {
        if (!new RegExp("\\[\\d+\\]\\." + name + "$").test(input.name)) { return; }
        var v = money ? cents(input.value) : number(input.value);
        if (v !== null) { sum += v; }
      });
      out.textContent = money ? eur(sum) : String(Math.round(sum * 1e6) / 1e6);
    });
  }
  function renumber(group) {
    group.querySelectorAll("[data-group-items] [data-group-item]").forEach(function (item, i) {
      var legend = item.querySelector("legend");
      if (legend) { legend.textContent = "Line " + (i + 1); }
      var remove = item.querySelector("[data-remove-line]");
      if (remove) { remove.textContent = "Remove line " + (i + 1); }
    });
    var add = group.querySelector("[data-add-line]");
    var max = parseInt(group.getAttribute("data-max-items"), 10);
    if (add) { add.hidden = group.querySelectorAll("[data-group-items] [data-group-item]").length >= max; }
  }
  function addLine(group) {
    var items = group.querySelector("[data-group-items]");
    var template = group.querySelector("template[data-group-template]");
    var next = 0;
    items.querySelectorAll("[name]").forEach(function (input) {
      var m = /\[(\d+)\]\./.exec(input.name);
      if (m) { next = Math.max(next, parseInt(m[1], 10) + 1); }
    });
    var html = template.innerHTML.split("__index__").join(String(next)).split("__number__").join(String(next + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var item = holder.firstElementChild;
    items.appendChild(item);
    enhanceItem(group, item);
    renumber(group);
    return item;
  }
  function enhanceItem(group, item) {
    var remove = item.querySelector("[data-remove-line]");
    if (remove) {
      remove.hidden = false;
      remove.addEventListener("click", function () {
        var form = item.closest("form");
        item.remove();
        renumber(group);
        updateTotals(group);
        if (form) { form.dispatchEvent(new Event("input", { bubbles: true })); }
        var add = group.querySelector("[data-add-line]");
        if (add && !add.hidden) { add.focus(); }
      });
    }
    wordCounters(item);
  }
  document.querySelectorAll("[data-group]").forEach(function (group) {
    group.querySelectorAll("[data-group-items] [data-group-item]").forEach(function (item) { enhanceItem(group, item); });
    var add = group.querySelector("[data-add-line]");
    if (add && !group.closest("[data-preview]")) {
      add.addEventListener("click", function () {
        var item = addLine(group);
        var first = item.querySelector("input, select, textarea");
        if (first) { first.focus(); }
      });
    }
    renumber(group);
    if (group.closest("[data-preview]") && add) { add.hidden = true; }
    group.addEventListener("input", function () { updateTotals(group); });
    group.addEventListener("change", function () { updateTotals(group); });
  });

  // -- The draft form: autosave, a copy in this browser as a last resort, submit after save. --
  var draft = document.querySelector("form[data-autosave-url]");
  if (draft) {
    var status = document.getElementById("autosave-status");
    var versionInput = draft.querySelector('input[name="version"]');
    var csrfInput = draft.querySelector('input[name="csrf_token"]');
    var key = draft.getAttribute("data-draft-key");
    var note = document.querySelector(".unsaved-note");
    var saving = null;
    // After a conflict the person first compares, then saves with the button.
    var stopped = draft.hasAttribute("data-autosave-paused");
    var leaving = false;

    var snapshot = function () {
      var out = {};
      new FormData(draft).forEach(function (value, name) {
        if (typeof value !== "string" || name === "csrf_token" || name === "version") { return; }
        (out[name] = out[name] || []).push(value);
      });
      return out;
    };
    var serialise = function () { return JSON.stringify(snapshot()); };
    var lastSaved = serialise();
    var changed = function () { return serialise() !== lastSaved; };
    var say = function (text, bad) {
      if (!status) { return; }
      status.textContent = text;
      status.classList.toggle("autosave-bad", !!bad);
    };
    if (stopped) { say("Autosave is paused: compare the answers above, then use Save draft.", true); }
    var hhmm = function (date) {
      return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
    };
    var store = {
      read: function () { try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; } },
      write: function () { try { window.localStorage.setItem(key, JSON.stringify({ at: Date.now(), fields: snapshot() })); } catch (e) { /* full or disabled */ } },
      clear: function () { try { window.localStorage.removeItem(key); } catch (e) { /* disabled */ } }
    };

    var save = function () {
      // A change made while a save is on its way is saved once that one lands: otherwise
      // the page says "Saved at" while the last change waits for the next interval.
      if (saving) { return saving.then(function () { return changed() ? save() : true; }); }
      if (stopped) { return Promise.resolve(false); }
      var sent = serialise();
      var data = new FormData(draft);
      draft.querySelectorAll('input[type="file"]').forEach(function (input) { data.delete(input.name); });
      say("Saving…");
      saving = fetch(draft.getAttribute("data-autosave-url"), {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfInput ? csrfInput.value : "", "Accept": "application/json" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || type.indexOf("json") === -1) {
          throw new Error(response.status === 400 ? "the page has expired; reload it (your text is kept in this browser)"
                                                  : "you are no longer logged in; log in again in another tab");
        }
        return response.json();
      }).then(function (body) {
        if (body.ok) {
          versionInput.value = body.version;
          lastSaved = sent;
          if (!changed()) {
            store.clear();
            if (note) { note.hidden = true; }
          }
          say("Saved at " + hhmm(new Date()) + (body.errors ? " (" + body.errors + " answer" + (body.errors > 1 ? "s" : "") + " to correct before submitting)" : ""));
          return true;
        }
        if (body.conflict) { stopped = true; }
        say("Not saved: " + body.reason, true);
        return false;
      }).catch(function (error) {
        say("Not saved: " + (error && error.message ? error.message : "no connection") + ". Your changes are kept in this browser.", true);
        return false;
      }).then(function (ok) { saving = null; return ok; });
      return saving;
    };

    var touched = function () {
      if (!changed()) { return; }
      store.write();
      if (note) { note.hidden = false; }
    };
    draft.addEventListener("input", touched);
    draft.addEventListener("change", touched);
    draft.addEventListener("focusout", function () { if (changed()) { save(); } });
    window.setInterval(function () { if (changed()) { save(); } }, 20000);
    draft.addEventListener("submit", function (event) {
      // An autosave still on its way would make this save look stale: let it land first.
      if (saving) {
        event.preventDefault();
        saving.then(function () { leaving = true; draft.submit(); });
        return;
      }
      leaving = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (!leaving && changed()) { event.preventDefault(); event.returnValue = ""; }
    });

    // Submission sends the saved draft: save what is on the screen first.
    document.querySelectorAll("form[data-submit-after-save]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!changed()) { leaving = true; return; }
        event.preventDefault();
        save().then(function (ok) {
          if (ok) { leaving = true; form.submit(); }
        });
      });
    });

    // A copy kept in this browser that the server never got: offer it back.
    var restoreInto = function (fields) {
      Object.keys(fields).forEach(function (name) {
        var m = /^([a-z][a-z0-9_]*)\[(\d+)\]\./.exec(name);
        if (m) {
          var group = draft.querySelector('[data-group="' + m[1] + '"]');
          var guard = 0;
          while (group && !draft.querySelector('[name="' + name + '"]') && guard++ < 60) { addLine(group); }
        }
      });
      // Several inputs may share a name (a list of countries): each takes the next value.
      var used = {};
      draft.querySelectorAll("[name]").forEach(function (input) {
        var name = input.name;
        if (name === "csrf_token" || name === "version" || input.type === "file") { return; }
        var values = fields[name] || [];
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = values.indexOf(input.value) !== -1;
        } else if (input.tagName !== "BUTTON") {
          var index = used[name] || 0;
          input.value = index < values.length ? values[index] : "";
          used[name] = index + 1;
        }
      });
      draft.querySelectorAll("[data-group]").forEach(updateTotals);
      draft.dispatchEvent(new Event("input", { bubbles: true }));
    };
    var kept = store.read();
    var banner = document.getElementById("restore-banner");
    var savedAt = Date.parse(draft.getAttribute("data-saved-at") || "") || 0;
    if (kept && kept.fields && kept.at > savedAt && JSON.stringify(kept.fields) !== lastSaved && banner) {
      banner.querySelector("[data-restore-time]").textContent = new Date(kept.at).toLocaleString();
      banner.hidden = false;
      banner.querySelector("[data-restore]").addEventListener("click", function () {
        restoreInto(kept.fields);
        banner.hidden = true;
        save();
      });
      banner.querySelector("[data-discard]").addEventListener("click", function () {
        store.clear();
        banner.hidden = true;
      });
    } else if (kept) {
      store.clear();
    }
  }

  // Bring the error summary into view and focus so it is read first.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) { summary.focus(); }
})();
