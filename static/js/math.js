/*
 * Typeset the LaTeX that chat/markdown.py leaves in
 *   <span class="math-inline">…</span>, <span|div class="math-display">…</span|div>
 * with the vendored KaTeX (static/vendor/katex). Load after katex.min.js, e.g.
 *   <link rel="stylesheet" href="{% static 'vendor/katex/katex.min.css' %}">
 *   <script defer src="{% static 'vendor/katex/katex.min.js' %}"></script>
 *   <script defer src="{% static 'js/math.js' %}"></script>
 *
 * Each element is rendered once (marked with data-math-rendered). KaTeX's
 * default output ("htmlAndMathml") is kept: the MathML part is what screen
 * readers read, and it carries the original LaTeX in an <annotation>.
 */
(function () {
  "use strict";

  var SELECTOR = ".math-inline, .math-display";
  var MARK = "data-math-rendered";

  function renderElement(el) {
    if (el.hasAttribute(MARK)) return;
    var katex = window.katex;
    if (!katex) return; // KaTeX missing: leave the LaTeX source readable
    el.setAttribute(MARK, "");
    try {
      katex.render(el.textContent, el, {
        displayMode: el.classList.contains("math-display"),
        throwOnError: false,
      });
    } catch (err) {
      // throwOnError:false covers parse errors; anything else leaves the source as is
      if (window.console) console.warn("math.js: KaTeX failed", err);
    }
    markIfWide(el);
  }

  // An inline formula wider than its line (a long fraction cannot break) becomes a line of
  // its own that scrolls in its box (app.css), instead of running past the bubble.
  function markIfWide(el) {
    if (!el.classList.contains("math-inline")) return;
    el.classList.remove("math-inline--wide");
    var line = el.parentElement;
    if (line && el.scrollWidth > line.clientWidth) el.classList.add("math-inline--wide");
  }

  function renderMath(root) {
    if (!root || root.nodeType !== 1) return;
    if (root.matches(SELECTOR)) renderElement(root);
    var nodes = root.querySelectorAll(SELECTOR);
    for (var i = 0; i < nodes.length; i++) renderElement(nodes[i]);
  }

  window.renderMath = renderMath;

  // A turned phone or a resized window: each inline formula is measured against its line again.
  var measuring = null;
  window.addEventListener("resize", function () {
    clearTimeout(measuring);
    measuring = setTimeout(function () {
      document.querySelectorAll(".math-inline[" + MARK + "]").forEach(markIfWide);
    }, 150);
  });

  // htmx swaps (normal and out-of-band, e.g. from the ws extension); events bubble to document
  document.addEventListener("htmx:load", function (e) {
    renderMath(e.detail && e.detail.elt);
  });
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    renderMath((e.detail && e.detail.target) || e.target);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      renderMath(document.body);
    });
  } else {
    renderMath(document.body);
  }
})();
