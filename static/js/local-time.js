// Every <time data-local-time> shows the reader's local time (with the date when it is
// not today, and the year when not this year); the server rendered it in UTC with a
// label (chat/templatetags/local_time.py). The full date and zone are in its title.
(function () {
  "use strict";

  function label(when, now) {
    var options = { hour: "2-digit", minute: "2-digit" };
    if (when.toDateString() !== now.toDateString()) {
      options.day = "numeric";
      options.month = "short";
      if (when.getFullYear() !== now.getFullYear()) options.year = "numeric";
    }
    return new Intl.DateTimeFormat(undefined, options).format(when);
  }

  function localise(root) {
    var now = new Date();
    root.querySelectorAll("time[data-local-time]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      node.textContent = label(when, now);
      node.title = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }).format(when);
      node.removeAttribute("data-local-time");
    });
  }

  document.addEventListener("htmx:load", function (event) { localise(event.target.parentNode || document); });
  document.addEventListener("htmx:wsAfterMessage", function () { localise(document); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { localise(document); });
  else localise(document);
})();
