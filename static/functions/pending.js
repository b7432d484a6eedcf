// The forms for pending function calls (#pending-action) are pushed again with every run
// event and every socket snapshot. One that is unchanged (same run, same status) must not
// replace the form a student is filling in: keep what they typed and the focus, and keep
// the form attached so the answer to its own request can still be swapped in.
(function () {
  "use strict";
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "pending-action") return;
    var fragment = event.detail.fragment;
    var incoming = fragment && fragment.querySelector ? fragment.querySelector("#pending-action") : null;
    var key = incoming ? incoming.getAttribute("data-pending-key") : "";
    if (key && key === target.getAttribute("data-pending-key")) event.detail.shouldSwap = false;
  });
})();
