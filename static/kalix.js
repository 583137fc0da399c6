// Behaviour that used to be inline (onchange=, onclick=): the Content-Security-Policy refuses inline
// handlers, so elements say what they want with data- attributes and this file, loaded from our origin,
// does it.
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
});
document.addEventListener("click", function (event) {
  if (event.target.matches("[data-print]")) window.print();
});
// A page that asks to follow a change (data-reload-after="seconds" on <body> or any element) reloads itself.
document.addEventListener("DOMContentLoaded", function () {
  var marked = document.querySelector("[data-reload-after]");
  if (marked) setTimeout(function () { location.reload(); }, Number(marked.dataset.reloadAfter) * 1000);
});
