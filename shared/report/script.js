(function () {
  "use strict";
  var doc = document;
  // Printing shows the folded lists too.
  window.addEventListener("beforeprint", function () {
    doc.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  // A filter over topics, core loops and exercise texts; without script the page is
  // complete, only unfiltered.
  var slot = doc.getElementById("filter-slot");
  if (!slot) { return; }
  var label = doc.createElement("label");
  label.htmlFor = "filter";
  label.textContent = "Filter topics";
  var input = doc.createElement("input");
  input.type = "search";
  input.id = "filter";
  input.placeholder = "e.g. cache, Karnaugh";
  input.setAttribute("aria-controls", "topics");
  var status = doc.createElement("span");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  slot.className = "filter";
  slot.appendChild(label);
  slot.appendChild(input);
  slot.appendChild(status);
  var topics = Array.prototype.slice.call(doc.querySelectorAll("section.topic"));
  function norm(s) {
    return s.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  var texts = topics.map(function (t) { return norm(t.textContent); });
  input.addEventListener("input", function () {
    var q = norm(input.value.trim());
    var shown = 0;
    topics.forEach(function (t, i) {
      var hit = q === "" || texts[i].indexOf(q) >= 0;
      t.hidden = !hit;
      var anchor = t.id;
      doc.querySelectorAll('[data-topic="' + anchor + '"]').forEach(function (el) { el.hidden = !hit; });
      if (hit) { shown++; }
    });
    status.textContent = q === "" ? "" : shown + " of " + topics.length + " topics match";
  });
  doc.documentElement.setAttribute("data-script", "ready");
})();
