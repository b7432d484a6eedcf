// A request whose element is replaced while it is in flight: the Cancel button of a run, or
// a quiz's form, live in regions the socket pushes anew (#run-details, #pending-action), and
// the push may land before the button's own response. htmx would then look for the
// response's out-of-band targets inside the detached button (htmx:oobErrorNoTarget) and drop
// them. Apply such a response to the page instead.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    // On the element itself: events of a detached element never reach the document.
    elt.addEventListener("htmx:beforeSwap", function (swap) {
      if (elt.isConnected || !swap.detail.shouldSwap) return;
      swap.detail.shouldSwap = false;
      htmx.swap(document.body, swap.detail.serverResponse, { swapStyle: "none" });
    }, { once: true });
  });
})();
