/* chatsweep: progressive enhancement for selections. Without it every form still posts the ticked
   boxes; with it, shift-click ticks a run, "All shown" ticks every box of a form, and a counter
   says how many are ticked. Boxes added later (htmx "older messages") are covered too, because
   everything is delegated from the document. A box belongs to a form by its form="..." attribute. */
(function () {
  "use strict";
  var lastClicked = {};

  function boxesOf(formId) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input.select-box[form="' + formId + '"]')
    );
  }

  function updateCount(formId) {
    var boxes = boxesOf(formId);
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    document.querySelectorAll('[data-selection-count="' + formId + '"]').forEach(function (out) {
      if (!out.dataset.initial) { out.dataset.initial = out.textContent; }
      out.textContent = ticked ? ticked + " selected" : out.dataset.initial;
    });
    document.querySelectorAll('[data-select-all="' + formId + '"]').forEach(function (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
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
          boxes.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (b) { b.checked = box.checked; });
        }
      }
      lastClicked[formId] = box;
      updateCount(formId);
    } else if (box.dataset.selectAll) {
      boxesOf(box.dataset.selectAll).forEach(function (b) { b.checked = box.checked; });
      updateCount(box.dataset.selectAll);
    }
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
    Object.keys(forms).forEach(updateCount);
  }

  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", reveal);
})();

/* The certificate's "Print" button (data-print): the browser's print dialog, whose print
   stylesheet makes the page one A4 document. Without JavaScript, the browser's own Print does. */
document.addEventListener("click", function (event) {
  if (event.target instanceof Element && event.target.closest("[data-print]")) { window.print(); }
});
