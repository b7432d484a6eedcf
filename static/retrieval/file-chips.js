// A file chip's status pushed over the socket may arrive before the chip itself: the upload's
// file can finish processing while the composer's POST response, the one that puts the message
// and its chips on the page, is still on its way. htmx would drop the push with
// htmx:oobErrorNoTarget. The response renders each chip's status as it was when rendered, so a
// push is kept until its chip is on the page and applied then (statuses only move forward:
// the kept one is never older than the chip it replaces).
(function () {
  "use strict";
  var pending = {}; // chip id -> the pushed chip's HTML
  var watching = null;

  function applyPending() {
    Object.keys(pending).forEach(function (id) {
      if (!document.getElementById(id)) return;
      var html = pending[id];
      delete pending[id];
      htmx.swap(document.body, html, { swapStyle: "none" });
    });
    if (watching && !Object.keys(pending).length) {
      watching.disconnect();
      watching = null;
    }
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var template = document.createElement("template");
    template.innerHTML = event.detail.message;
    var parts = Array.from(template.content.children);
    var isChips = parts.length && parts.every(function (part) {
      return part.classList.contains("file-chip") && part.id && part.hasAttribute("hx-swap-oob");
    });
    if (!isChips || parts.every(function (part) { return document.getElementById(part.id); })) return;
    event.preventDefault();
    parts.forEach(function (part) { pending[part.id] = part.outerHTML; });
    applyPending(); // the chips already on the page
    if (!watching && Object.keys(pending).length) {
      watching = new MutationObserver(applyPending);
      watching.observe(document.body, { childList: true, subtree: true });
    }
  });
})();
