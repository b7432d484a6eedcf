// Citations: the server renders each citation as "⁣[n]⁣" (invisible separators around
// the number) plus a list of sources after the message. This turns every such number
// into a focusable link to the document at the cited page, with a tooltip (file name,
// page, quoted passage) on hover and keyboard focus. A touch screen has no hover: there
// the first tap on a number shows its tip and a second tap on it opens the document.
// Without JavaScript the numbers and the source list still show. (While text streams, the server holds markers back:
// chat/retrieval/annotate.py, HideMarkersWhileStreaming.)
(function () {
  "use strict";
  var SEP = "\u2063";
  var PATTERN = /\u2063\[(\d+)\]\u2063/g;

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = document.currentScript ? document.currentScript.src.replace(/\.js(\?.*)?$/, ".css") : "";
  if (css.href) document.head.appendChild(css);

  function upgrade(root) {
    root.querySelectorAll("ol.citations[data-message]").forEach(function (list) {
      var body = list.closest(".message__body") || list.parentNode;
      var id = list.getAttribute("data-message");
      var walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
      var nodes = [];
      while (walker.nextNode()) if (walker.currentNode.nodeValue.indexOf(SEP) >= 0) nodes.push(walker.currentNode);
      nodes.forEach(function (node) {
        var text = node.nodeValue, frag = document.createDocumentFragment(), last = 0, m;
        PATTERN.lastIndex = 0;
        while ((m = PATTERN.exec(text))) {
          frag.appendChild(document.createTextNode(text.slice(last, m.index)));
          frag.appendChild(marker(id, m[1]));
          last = m.index + m[0].length;
        }
        frag.appendChild(document.createTextNode(text.slice(last)));
        node.parentNode.replaceChild(frag, node);
      });
    });
  }

  function marker(messageId, n) {
    var source = document.getElementById("cite-" + messageId + "-" + n);
    var link = document.createElement("a");
    link.className = "cite-marker";
    link.textContent = n;
    link.target = "_blank";
    link.rel = "noopener";
    if (!source) return link;
    var target = source.querySelector("a");
    link.href = target ? target.href : "#" + source.id;
    var tip = document.createElement("span");
    tip.className = "cite-tip";
    tip.setAttribute("role", "tooltip");
    tip.id = "tip-" + source.id;
    tip.innerHTML = source.innerHTML.replace(/<\/?a\b[^>]*>/g, "");
    link.setAttribute("aria-describedby", tip.id);
    link.setAttribute("aria-label", "Source " + n);
    var wrap = document.createElement("span");
    wrap.className = "cite";
    wrap.appendChild(link);
    wrap.appendChild(tip);
    return wrap;
  }

  // The pointer of the latest press: a click says which only in newer browsers.
  var pointer = "mouse";
  var shown = null; // the marker whose tip a tap showed
  function showTip(link) {
    if (shown && shown !== link) hideTip();
    shown = link;
    link.parentNode.classList.add("cite--shown");
    link.focus({ preventScroll: true });
  }
  function hideTip() {
    if (shown) shown.parentNode.classList.remove("cite--shown");
    shown = null;
  }
  document.addEventListener("pointerdown", function (event) {
    pointer = event.pointerType || "mouse";
    if (shown && !shown.parentNode.contains(event.target)) hideTip();
  }, true);
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.cite-marker");
    if (!link || !link.parentNode.classList.contains("cite")) return;
    var touch = (event.pointerType || pointer) === "touch";
    if (touch && link !== shown) {
      event.preventDefault(); // the first tap only shows where the number points
      showTip(link);
    } else {
      hideTip();
    }
  });

  document.addEventListener("keydown", function (event) {
    pointer = "keyboard";
    if (event.key === "Escape") hideTip();
    if (event.key === "Escape" && document.activeElement && document.activeElement.classList.contains("cite-marker")) {
      document.activeElement.blur();
    }
  });
  document.addEventListener("htmx:load", function () { upgrade(document); });
  document.addEventListener("htmx:wsAfterMessage", function () { upgrade(document); });
  document.addEventListener("DOMContentLoaded", function () { upgrade(document); });
})();
