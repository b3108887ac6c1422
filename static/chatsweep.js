/* chatsweep: progressive enhancement for selections. Without it every form still posts the ticked
   boxes; with it, shift-click ticks a run, "All shown" ticks every box of a form, and a counter
   says how many are ticked. Boxes added later (htmx "older messages") are covered too, because
   everything is delegated from the document. A box belongs to a form by its form="..." attribute.
   The counter shows the limits as you tick (data-selection-limit: the most one request takes;
   data-selection-cap: the most the viewer's role may delete for everyone), and on submit the
   ticked boxes go as one comma-separated value, so a selection of thousands is one field.
   A form with data-selection-url keeps its selection on the server (chatdata.purge.selection):
   data-selected holds what was ticked before (on pages not loaded now, too), every tick and untick
   is sent there in order, the counter counts the whole selection, and submit sends all of it. */
(function () {
  "use strict";
  var lastClicked = {};
  var saved = {};    // formId -> Set of ids ticked, for forms that keep their selection
  var sending = {};  // formId -> the promise of the last change sent, so changes arrive in order
  var refusal = {};  // formId -> the server's last refusal, shown in the counter

  function formOf(formId) {
    var form = document.getElementById(formId);
    return form && form.dataset.selectionUrl ? form : null;
  }

  function savedOf(formId) {
    var form = formOf(formId);
    if (!form) { return null; }
    if (!saved[formId]) {
      saved[formId] = new Set((form.dataset.selected || "").split(",").filter(Boolean));
    }
    return saved[formId];
  }

  function send(formId, body) {
    var form = formOf(formId);
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    body.append("csrfmiddlewaretoken", token ? token.value : "");
    var previous = sending[formId] || Promise.resolve();
    sending[formId] = previous.then(function () {
      return fetch(form.dataset.selectionUrl, {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
      }).then(function (response) {
        return response.json().then(function (data) {
          refusal[formId] = response.ok ? "" : (data.error || "The selection could not be kept.");
          updateCount(formId);
        });
      }).catch(function () {
        refusal[formId] = "The selection could not be kept on the server; what is ticked here still goes with the form.";
        updateCount(formId);
      });
    });
  }

  // Boxes whose state changed: remember them and tell the server.
  function changed(formId, boxes) {
    var set = savedOf(formId);
    if (!set || !boxes.length) { return; }
    var add = [], remove = [];
    boxes.forEach(function (box) {
      if (box.checked && !set.has(box.value)) { set.add(box.value); add.push(box.value); }
      if (!box.checked && set.has(box.value)) { set.delete(box.value); remove.push(box.value); }
    });
    if (!add.length && !remove.length) { return; }
    var body = new FormData();
    body.append("add", add.join(","));
    body.append("remove", remove.join(","));
    send(formId, body);
  }

  function boxesOf(formId) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input.select-box[form="' + formId + '"]')
    );
  }

  function updateCount(formId) {
    var boxes = boxesOf(formId);
    var set = savedOf(formId);
    var ticked = set ? set.size : boxes.filter(function (box) { return box.checked; }).length;
    document.querySelectorAll('[data-selection-count="' + formId + '"]').forEach(function (out) {
      if (!out.dataset.initial) { out.dataset.initial = out.textContent; }
      var limit = Number(out.dataset.selectionLimit || 0), cap = Number(out.dataset.selectionCap || 0);
      var text = ticked ? ticked.toLocaleString("en") + " selected" : out.dataset.initial;
      var over = false;
      if (limit && ticked > limit) {
        text += ": at most " + limit.toLocaleString("en") + " in one request; untick " + (ticked - limit).toLocaleString("en") + ".";
        over = true;
      } else if (cap && ticked > cap) {
        text += ": your role deletes at most " + cap + " for everyone (hiding for one member is not capped).";
        over = true;
      } else if (cap && ticked) {
        text += " of at most " + cap + " to delete for everyone";
      }
      if (refusal[formId]) { text += ". " + refusal[formId]; over = true; }
      out.textContent = text;
      out.classList.toggle("selection-count--over", over);
    });
    document.querySelectorAll('[data-selection-clear="' + formId + '"]').forEach(function (clear) {
      clear.hidden = !ticked;
    });
    var shown = boxes.filter(function (box) { return box.checked; }).length;
    document.querySelectorAll('[data-select-all="' + formId + '"]').forEach(function (all) {
      all.checked = boxes.length > 0 && shown === boxes.length;
      all.indeterminate = shown > 0 && shown < boxes.length;
    });
  }

  document.addEventListener("click", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement)) { return; }
    if (box.classList.contains("select-box")) {
      var formId = box.getAttribute("form");
      var previous = lastClicked[formId];
      if (event.shiftKey && previous && previous !== box && document.contains(previous)) {
        var boxes = boxesOf(formId);
        var from = boxes.indexOf(previous), to = boxes.indexOf(box);
        if (from > -1 && to > -1) {
          var run = boxes.slice(Math.min(from, to), Math.max(from, to) + 1);
          run.forEach(function (b) { b.checked = box.checked; });
          changed(formId, run);
        }
      }
      lastClicked[formId] = box;
      changed(formId, [box]);
      updateCount(formId);
    } else if (box.dataset.selectAll) {
      var all = boxesOf(box.dataset.selectAll);
      all.forEach(function (b) { b.checked = box.checked; });
      changed(box.dataset.selectAll, all);
      updateCount(box.dataset.selectAll);
    }
  });

  // "Clear selection": every tick goes, here and on the server.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-selection-clear]");
    if (!button) { return; }
    var formId = button.dataset.selectionClear;
    boxesOf(formId).forEach(function (b) { b.checked = false; });
    var set = savedOf(formId);
    if (set) {
      set.clear();
      var body = new FormData();
      body.append("clear", "1");
      send(formId, body);
    }
    updateCount(formId);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.id) { return; }
    var byName = {};
    var set = savedOf(form.id);
    boxesOf(form.id).forEach(function (box) {
      if (!box.name) { return; }
      byName[box.name] = byName[box.name] || [];
      if (box.checked && !(set && set.has(box.value))) { byName[box.name].push(box.value); }
      box.dataset.name = box.name;
      box.removeAttribute("name");  // sent once, below, instead of once per box
    });
    var name = form.dataset.selectionField;
    if (set && name) {  // ticks on pages not shown now go too
      byName[name] = Array.from(set).concat(byName[name] || []);
    }
    Object.keys(byName).forEach(function (name) {
      var joined = document.createElement("input");
      joined.type = "hidden";
      joined.name = name;
      joined.value = byName[name].join(",");
      joined.dataset.joined = "";
      form.appendChild(joined);
    });
  });

  // Back to a page whose form was sent: its boxes get their names again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("input[data-joined]").forEach(function (input) { input.remove(); });
    document.querySelectorAll("input.select-box[data-name]").forEach(function (box) { box.name = box.dataset.name; });
  });

  function reveal() {
    // "All shown" only where there is something to tick.
    document.querySelectorAll("[data-select-all]").forEach(function (all) {
      var any = boxesOf(all.dataset.selectAll).length > 0;
      var label = all.closest("[data-select-all-label]");
      all.hidden = !any;
      if (label) { label.hidden = !any; }
    });
    var forms = {};
    document.querySelectorAll("input.select-box[form]").forEach(function (b) { forms[b.getAttribute("form")] = true; });
    document.querySelectorAll("form[data-selection-url]").forEach(function (f) { forms[f.id] = true; });
    Object.keys(forms).forEach(updateCount);
  }

  // The range form's live preview names its bounds: the timeline's messages inside them are marked.
  function markRange() {
    var bounds = document.querySelector("#range-preview [data-range-end]");
    var end = bounds ? Date.parse(bounds.dataset.rangeEnd) : NaN;
    var start = bounds && bounds.dataset.rangeStart ? Date.parse(bounds.dataset.rangeStart) : -Infinity;
    document.querySelectorAll("#timeline-messages li.message").forEach(function (item) {
      var time = item.querySelector(".message__time time");
      var at = time ? Date.parse(time.getAttribute("datetime")) : NaN;
      item.classList.toggle("message--in-range", !isNaN(end) && at >= start && at < end);
    });
  }

  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", reveal);
  document.addEventListener("DOMContentLoaded", markRange);
  document.addEventListener("htmx:afterSettle", markRange);
})();

/* The certificate's "Print" button (data-print): the browser's print dialog, whose print
   stylesheet makes the page one A4 document. Without JavaScript, the browser's own Print does. */
document.addEventListener("click", function (event) {
  if (event.target instanceof Element && event.target.closest("[data-print]")) { window.print(); }
});
