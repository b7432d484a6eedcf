// A "Copy" button: <button data-copy="#id" hidden> copies the text of #id to the clipboard
// and says so. Hidden until this script runs, so it never shows where it cannot work.
(function () {
  "use strict";

  function copied(button, label) {
    button.textContent = label;
    window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button, "Copied"); },
        function () { selectText(source); copied(button, "Press Ctrl+C to copy"); }
      );
    } else {
      selectText(source);
      copied(button, "Press Ctrl+C to copy");
    }
  }

  function setUp() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.setAttribute("aria-live", "polite");
      button.addEventListener("click", function () { copy(button); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
