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
    markEdges(el);
  }

  // The boxes a formula scrolls in: a display formula's (KaTeX's .katex-display), a wide inline one.
  var SCROLLER = ".katex-display, .math-inline--wide";
  // A shadow only at an edge with more to see (app.css): none on a formula that fits.
  function markEdges(el) {
    var boxes = el.matches(SCROLLER) ? [el] : Array.prototype.slice.call(el.querySelectorAll(SCROLLER));
    boxes.forEach(function (box) {
      var more = box.scrollWidth - box.clientWidth;
      box.classList.toggle("math-more-left", more > 1 && box.scrollLeft > 1);
      box.classList.toggle("math-more-right", more > 1 && box.scrollLeft < more - 1);
    });
    if (!el.matches(SCROLLER)) {
      // An inline formula no longer wide keeps no shadow.
      el.classList.remove("math-more-left", "math-more-right");
    }
  }
  // Scrolling does not bubble: caught on its way down.
  document.addEventListener("scroll", function (event) {
    var box = event.target;
    if (box.nodeType === 1 && box.matches(SCROLLER)) markEdges(box);
  }, true);

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

  // A turned phone or a resized window: each inline formula is measured against its line
  // again, and each formula's edges; so once KaTeX's fonts have loaded (widths change).
  function remeasure() {
    document.querySelectorAll(".math-inline[" + MARK + "]").forEach(markIfWide);
    document.querySelectorAll("[" + MARK + "]").forEach(markEdges);
  }
  var measuring = null;
  window.addEventListener("resize", function () {
    clearTimeout(measuring);
    measuring = setTimeout(remeasure, 150);
  });
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(remeasure);

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
