// The passage page opens on the quoted passage (a static file: the CSP allows no inline script).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var quote = document.getElementById("quote");
  if (quote) {
    quote.scrollIntoView({ block: "center" });
    quote.focus();
  }
});
