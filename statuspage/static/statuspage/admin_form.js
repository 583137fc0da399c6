// Support's incident forms: "Notify subscribers" is unticked for back-dated entries and backfills.
// The page's "now" (in its time zone) is on each date-time input as data-page-now, in the input's own
// format, so comparing the two strings compares the times.
(function () {
  "use strict";
  var HOUR_MS = 3600 * 1000;

  function backDated(input) {
    if (!input || !input.value || !input.dataset.pageNow) return false;
    var entered = Date.parse(input.value + ":00Z");
    var now = Date.parse(input.dataset.pageNow + ":00Z");
    return now - entered > HOUR_MS;
  }

  function init() {
    var form = document.querySelector("form.statuspage-form");
    if (!form) return;
    var notify = form.querySelector("#id_notify");
    if (!notify) return;
    var backfill = form.querySelector("#id_backfill");
    var times = form.querySelectorAll("input[type=datetime-local][data-page-now]");
    function refresh() {
      var past = Array.prototype.some.call(times, backDated);
      var filling = backfill && backfill.checked;
      if (filling || past) notify.checked = false;
      notify.disabled = !!filling;
    }
    Array.prototype.forEach.call(times, function (input) {
      input.addEventListener("input", refresh);
      input.addEventListener("change", refresh);
    });
    if (backfill) backfill.addEventListener("change", refresh);
    refresh();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
