// The re-index job list follows an active job by reloading itself (data-reload-every="seconds"), but
// never under the operator's hands: a reload would untick the rows and forget the chosen action. So it
// waits while a row is ticked, an action is chosen, or any field has focus or a value not yet sent.
(function () {
  "use strict";

  function changed(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      var initial = Array.prototype.findIndex.call(field.options, function (o) { return o.defaultSelected; });
      return field.selectedIndex !== Math.max(initial, 0);
    }
    return field.value !== field.defaultValue;
  }

  function busy() {
    if (document.querySelector("input.action-select:checked, #action-toggle:checked")) return true;
    var action = document.querySelector("select[name=action]");
    if (action && action.value) return true;
    var focused = document.activeElement;
    if (focused && focused.matches("input, select, textarea")) return true;
    return Array.prototype.some.call(document.querySelectorAll("input, select, textarea"), changed);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var marked = document.querySelector("[data-reload-every]");
    var every = marked ? Number(marked.dataset.reloadEvery) * 1000 : 0;
    if (!every) return;
    setInterval(function () {
      if (!busy()) location.reload();
    }, every);
  });
})();
