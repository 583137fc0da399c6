// The compose form's patient picker: search-as-you-type over /patients/search/ (this clinic's patients),
// an ARIA 1.2 combobox (arrow keys, Enter, Escape). Without JavaScript the plain select stays.
(function () {
  var select = document.getElementById("id_patient");
  if (!select || !window.fetch) return;
  var recipient = document.getElementById("id_recipient"), channel = document.getElementById("id_channel");
  var prefilled = recipient ? recipient.value : "";
  var field = select.closest(".field"), label = field.querySelector("label");
  var box = document.createElement("div"), input = document.createElement("input"), list = document.createElement("ul");
  box.className = "combobox";
  input.id = "patient-search"; input.type = "text"; input.autocomplete = "off";
  input.setAttribute("role", "combobox"); input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false"); input.setAttribute("aria-controls", "patient-options");
  input.placeholder = "Type a name, phone or email";
  list.id = "patient-options"; list.setAttribute("role", "listbox"); list.hidden = true;
  if (label) { label.setAttribute("for", "patient-search"); list.setAttribute("aria-label", label.textContent); }
  if (select.value) input.value = select.options[select.selectedIndex].text;
  box.appendChild(input); box.appendChild(list);
  select.hidden = true; select.after(box);

  var results = [], active = -1, timer = null, asked = 0, contacts = null;
  function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; }
  function show(found) {
    results = found; list.innerHTML = ""; active = -1;
    found.forEach(function (p, i) {
      var li = document.createElement("li");
      li.id = "patient-option-" + i; li.setAttribute("role", "option"); li.setAttribute("aria-selected", "false");
      li.textContent = p.label; var small = document.createElement("small"); small.textContent = " " + p.detail; li.appendChild(small);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    if (!found.length) { var none = document.createElement("li"); none.setAttribute("role", "option"); none.setAttribute("aria-disabled", "true"); none.textContent = "No patient matches"; list.appendChild(none); }
    list.hidden = false; input.setAttribute("aria-expanded", "true");
  }
  function mark(i) {
    var items = list.querySelectorAll("[id^=patient-option-]");
    items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
    active = i;
    if (i >= 0) { input.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({block: "nearest"}); }
  }
  function address(p) { return p && channel ? (p.contacts[channel.value] || "") : ""; }
  function choose(i) {
    var p = results[i]; if (!p) return;
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === String(p.id); });
    if (!option) { option = new Option(p.label, p.id); select.add(option); }
    select.value = String(p.id); input.value = p.label; contacts = p; close();
    // An address filled in for the previous patient must not go to this one: follow the new patient.
    if (recipient && recipient.value === prefilled) { recipient.value = prefilled = address(p); }
  }
  if (channel && recipient) channel.addEventListener("change", function () {
    if (contacts && recipient.value === prefilled) recipient.value = prefilled = address(contacts);
  });
  input.addEventListener("input", function () {
    var q = input.value.trim(); clearTimeout(timer);
    if (!q) { select.value = ""; contacts = null; if (recipient && recipient.value === prefilled) recipient.value = prefilled = ""; close(); return; }
    timer = setTimeout(function () {
      var mine = ++asked;
      fetch(input.form.dataset.patientSearch + "?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) { if (mine === asked) show(data.results); });
    }, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); if (list.hidden && results.length) show(results); mark(Math.min(active + 1, results.length - 1)); }
    else if (e.key === "ArrowUp") { e.preventDefault(); mark(Math.max(active - 1, 0)); }
    else if (e.key === "Enter" && !list.hidden) { e.preventDefault(); if (active >= 0) choose(active); else if (results.length === 1) choose(0); }
    else if (e.key === "Escape") { close(); }
  });
  input.addEventListener("blur", close);
})();
