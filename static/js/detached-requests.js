// A request whose element is replaced while it is in flight: the Stop button of a run, the
// composer's Stop and Answer again (in #composer-action), or a quiz's form live in regions the
// socket pushes anew, and the push may land before the button's own response. htmx looks for
// that response's out-of-band targets inside the tree of the element that made the request,
// a detached one by then (htmx:oobErrorNoTarget), and drops them: the old answer would stay on
// the page. Apply such a response to the page instead. Every request made from a pushed region
// swaps nothing itself (hx-swap="none"), so its out-of-band parts are all there is to apply.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var xhr = event.detail.xhr;
    // htmx fires beforeSwap on the request's target, which is not always the element: the
    // composer's buttons inherit the form's hx-target. Listen there, on the target itself,
    // since the events of a detached target never reach the document.
    var target = event.detail.target || elt;
    function onBeforeSwap(swap) {
      if (swap.detail.xhr !== xhr) return; // another request with the same target
      target.removeEventListener("htmx:beforeSwap", onBeforeSwap);
      if (elt.isConnected || !swap.detail.shouldSwap) return;
      swap.detail.shouldSwap = false;
      htmx.swap(document.body, swap.detail.serverResponse, { swapStyle: "none" });
    }
    target.addEventListener("htmx:beforeSwap", onBeforeSwap);
    // A request that ends without a swap (an error, an abort) leaves no listener behind.
    elt.addEventListener("htmx:afterRequest", function () {
      target.removeEventListener("htmx:beforeSwap", onBeforeSwap);
    }, { once: true });
  });
})();
