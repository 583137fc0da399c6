// A form with data-confirm asks first (destructive actions: cancel, void, ...). Without JavaScript the
// form posts at once; the action itself is still refused once it can no longer be done.
document.addEventListener("submit", function (e) {
  var ask = e.target.getAttribute && e.target.getAttribute("data-confirm");
  if (ask && !window.confirm(ask)) e.preventDefault();
}, true);
