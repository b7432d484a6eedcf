// What htmx cannot do on its own: Enter sends the message (Shift+Enter breaks the line),
// and the conversation keeps scrolled to the newest text while it streams.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches("textarea[data-submit-on-enter]")) return;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    // Only when the form can send now: not over the limit, not during a run (Stop shows instead).
    var send = field.form && field.form.querySelector("[data-send]");
    if (field.value.trim() !== "" && send && !send.disabled) field.form.requestSubmit(send);
    else if (field.value.trim() !== "" && !send) sayWhyNotSent(field.form);
  });
  // During a run Enter sends nothing: say why, with what the composer's note says is awaited.
  function sayWhyNotSent(form) {
    var slot = form.querySelector("[data-request-problem]");
    var note = form.querySelector(".composer__note");
    if (!slot) return;
    var waiting = note && /form above/.test(note.textContent);
    slot.textContent = "";
    var line = document.createElement("p");
    line.textContent = document.getElementById("thread-deleted") ?
      "Not sent: this conversation was deleted. Your message stays in the box, to copy." : waiting ?
      "Not sent yet: answer the quiz above, or cancel it, first. Your message stays in the box." :
      "Not sent yet: the tutor is still answering. Send again once it has finished, or press Stop.";
    slot.appendChild(line);
    slot.hidden = false;
  }

  // The message limit, told as the student types (the server refuses the same limit).
  var numbers = new Intl.NumberFormat();
  function updateCounter() {
    var field = document.querySelector("textarea[data-max-chars]");
    var counter = document.getElementById("char-count");
    if (!field || !counter) return;
    var limit = Number(field.getAttribute("data-max-chars"));
    var length = field.value.length;
    var over = length > limit;
    if (over) {
      counter.textContent = "Too long to send: " + numbers.format(length) + " characters, the limit is " +
        numbers.format(limit) + ". Remove " + numbers.format(length - limit) + " to send it.";
    } else {
      counter.textContent = numbers.format(length) + " / " + numbers.format(limit) + " characters";
    }
    counter.classList.toggle("char-count--over", over);
    // Only the limit's own verdict changes: a server's form error keeps its aria-invalid.
    if (over) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("data-over-limit", "");
    } else if (field.hasAttribute("data-over-limit")) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("data-over-limit");
    }
    var send = field.form && field.form.querySelector("[data-send]");
    if (send) send.disabled = over;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-max-chars]")) updateCounter();
  });
  document.addEventListener("htmx:afterSettle", updateCounter);
  document.addEventListener("htmx:oobAfterSwap", updateCounter);
  document.addEventListener("DOMContentLoaded", updateCounter);

  // Copy buttons, one handler for both kinds: data-copy holds the text itself (a message's
  // Markdown); data-copy-from names the element whose text to copy (a new API key), and
  // such a button stays hidden until this script can make it work.
  function textToCopy(button) {
    if (!button.hasAttribute("data-copy-from")) return button.getAttribute("data-copy");
    var source = document.querySelector(button.getAttribute("data-copy-from"));
    return source ? source.textContent.trim() : null;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy], [data-copy-from]");
    if (!button || !navigator.clipboard) return;
    var text = textToCopy(button);
    if (text === null) return;
    navigator.clipboard.writeText(text).then(function () {
      var label = button.querySelector("[data-copy-label]") || button;
      var before = label.textContent;
      label.textContent = "Copied";
      setTimeout(function () { label.textContent = before; }, 1500);
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) return;
    document.querySelectorAll("[data-copy-from][hidden]").forEach(function (button) { button.hidden = false; });
  });

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  // Whether the reader is at the newest text: decided by where they scrolled (a scroll
  // event), not by where the text grew to, so a plot's image that gets its height after
  // the last message still keeps them at the bottom, and one who scrolled up stays put.
  var stick = true;
  var scrolledTo = 0; // where this script last put the log: its own scroll is not the reader's
  function scrollToNewest(log) {
    log.scrollTop = log.scrollHeight;
    scrolledTo = log.scrollTop;
  }
  document.addEventListener("scroll", function (event) {
    var log = event.target;
    if (log.id === "messages") stick = nearBottom(log) || log.scrollTop >= scrolledTo;
  }, true);
  function followNewest() {
    var log = document.getElementById("messages");
    if (log && stick) scrollToNewest(log);
  }
  document.addEventListener("htmx:wsAfterMessage", function () {
    var log = document.getElementById("messages");
    var empty = document.getElementById("empty-thread");
    if (empty && log && log.querySelector(".message")) empty.remove();
    followNewest();
  });
  // An image's load event does not bubble: heard on the way down, from any image in the log.
  document.addEventListener("load", function (event) {
    if (event.target.tagName === "IMG" && event.target.closest("#messages")) followNewest();
  }, true);
  // A question reaches the tab that posted it twice: in the POST's response and over the
  // socket, which tells every tab. Whichever comes second is dropped.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.target || detail.target.id !== "messages" || !detail.fragment) return;
    Array.prototype.slice.call(detail.fragment.children).forEach(function (message) {
      if (message.id && document.getElementById(message.id)) message.remove();
    });
  });
  // A conversation put on top of the list (its first question, or a later one: live.render_newly_listed)
  // comes inside a "Today" group. A page that has that group takes the entry alone into
  // it; one that has not (nothing else asked today) takes the group. A copy already shown
  // (the posting tab's response and its socket both bring it, or it is further down) goes,
  // and the date group it leaves empty with it. A page showing search results takes none:
  // clearing the search reloads the list, current by then.
  function searching() {
    var search = document.getElementById("conversation-search");
    return !!search && search.value.trim() !== "";
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.target || detail.target.id !== "conversation-list" || !detail.fragment) return;
    var today = detail.fragment.querySelector("#conversations-today");
    if (!today) return; // the whole list (a search's results)
    if (searching()) {
      detail.shouldSwap = false;
      return;
    }
    var entries = Array.prototype.slice.call(today.children);
    entries.forEach(function (entry) {
      var shown = entry.id && document.getElementById(entry.id);
      if (shown) removeConversationEntry(shown, shown.parentElement && shown.parentElement.id === "conversations-today");
    });
    var shownToday = document.getElementById("conversations-today");
    if (shownToday) {
      while (detail.fragment.firstChild) detail.fragment.removeChild(detail.fragment.firstChild);
      entries.forEach(function (entry) { detail.fragment.appendChild(entry); });
      detail.target = shownToday;
    } else {
      var empty = detail.target.querySelector(".empty");
      if (empty) empty.remove();
    }
  });
  // A conversation's entry leaves the sidebar, and its date group with its last entry
  // (unless the entry is only moving to the top of that group: ``moving``).
  function removeConversationEntry(entry, moving) {
    var list = entry.parentElement;
    entry.remove();
    if (!moving && list && !list.children.length && list.closest("section")) list.closest("section").remove();
  }
  // A conversation renamed from its sidebar entry, on its own page, hears of it twice too:
  // the entry in the POST's response (with the focus on its link) and over the socket.
  // The socket's copy is dropped while the entry's own rename is on its way (replacing the
  // entry would leave the response nowhere to go) or once it shows that title, so the
  // focus stays where the rename left it.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    var entry = detail.target;
    if (!entry || !entry.classList.contains("conversation-item") || !detail.fragment) return;
    var shown = entry.querySelector(".conversation-item__text a");
    var incoming = detail.fragment.querySelector(".conversation-item__text a");
    var renaming = entry.querySelector(".htmx-request");
    if (renaming || (shown && incoming && shown.textContent === incoming.textContent)) detail.shouldSwap = false;
  });
  // Removed messages (an answer asked again, an edited question, here or in another tab)
  // arrive as a marker naming them (chat/live.py render_removed), perhaps twice in the tab
  // that asked: take off whichever are still on the page, and the marker. A deleted
  // conversation leaves the sidebar the same way (render_unlisted).
  function applyRemovals() {
    document.querySelectorAll("[data-removed-messages]").forEach(function (marker) {
      marker.getAttribute("data-removed-messages").split(" ").forEach(function (id) {
        var message = id && document.getElementById("message-" + id);
        if (message) message.remove();
      });
      marker.remove();
    });
    document.querySelectorAll("[data-removed-conversations]").forEach(function (marker) {
      marker.getAttribute("data-removed-conversations").split(" ").forEach(function (id) {
        var entry = id && document.getElementById("conversation-" + id);
        if (entry) removeConversationEntry(entry);
      });
      marker.remove();
    });
  }
  document.addEventListener("htmx:afterSwap", applyRemovals);
  document.addEventListener("htmx:oobAfterSwap", applyRemovals);
  document.addEventListener("htmx:wsAfterMessage", applyRemovals);
  // Conversations asked again the same day, here or in another tab, arrive as a marker
  // naming them (chat/live.py render_moved), the last asked last: each entry this sidebar
  // shows goes on top of "Today", in that order. A page showing search results moves none
  // (clearing the search reloads the list); one without a "Today" group (rendered on an
  // earlier day) waits for its reload.
  function applyMoves() {
    document.querySelectorAll("[data-moved-conversations]").forEach(function (marker) {
      var today = document.getElementById("conversations-today");
      if (today && !searching()) {
        marker.getAttribute("data-moved-conversations").split(" ").forEach(function (id) {
          var entry = id && document.getElementById("conversation-" + id);
          if (!entry || !entry.classList.contains("conversation-item") || entry === today.firstElementChild) return;
          removeConversationEntry(entry, entry.parentElement === today);
          today.insertBefore(entry, today.firstElementChild);
        });
      }
      marker.remove();
    });
  }
  document.addEventListener("htmx:oobAfterSwap", applyMoves);
  document.addEventListener("htmx:wsAfterMessage", applyMoves);
  document.addEventListener("htmx:afterSwap", function (event) {
    var log = document.getElementById("messages");
    var empty = document.getElementById("empty-thread");
    if (empty && log && log.querySelector(".message")) empty.remove();
    if (log && event.detail.target && event.detail.target.id === "composer") {
      stick = true; // the reader just sent: they follow the answer
      scrollToNewest(log);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var log = document.getElementById("messages");
    if (log) scrollToNewest(log);
  });

  // A live page restored by Back or Forward from the browser's page cache missed what its
  // socket would have told it meanwhile: load it anew (the server also forbids caching it).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.querySelector("[ws-connect]")) window.location.reload();
  });

  // The conversation sidebar: a column on wide screens that can be hidden, a drawer on
  // phones. CSS decides what each state looks like; this only flips the state.
  function sidebarShown() {
    var sidebar = document.getElementById("sidebar");
    return !!sidebar && getComputedStyle(sidebar).display !== "none";
  }
  function syncSidebarToggles() {
    var shown = String(sidebarShown());
    document.querySelectorAll("[data-sidebar-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", shown);
    });
  }
  function setSidebar(open) {
    var layout = document.getElementById("chat-layout");
    if (!layout) return;
    var sidebar = document.getElementById("sidebar");
    // Closed with the focus inside it (Escape, its Close button): the focus goes back to the
    // button that opens it, not to <body> once what held it is hidden.
    var focusInside = !open && sidebar && sidebar.contains(document.activeElement);
    layout.setAttribute("data-sidebar", open ? "open" : "closed");
    syncSidebarToggles();
    if (focusInside) {
      var toggle = document.querySelector(".thread-head [data-sidebar-toggle]");
      if (toggle) toggle.focus();
    }
    if (open && window.matchMedia("(max-width: 820px)").matches) {
      var search = document.getElementById("conversation-search");
      if (search) search.focus();
    }
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-sidebar-toggle]")) setSidebar(!sidebarShown());
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.matchMedia("(max-width: 820px)").matches && sidebarShown()) setSidebar(false);
  });
  document.addEventListener("DOMContentLoaded", syncSidebarToggles);
  window.addEventListener("resize", syncSidebarToggles);

  // Files are checked before they travel (the server checks the same limits again):
  // a refused file empties the picker and says why.
  function describeSize(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.ceil(bytes / 1024) + " KB";
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var maxBytes = Number(input.getAttribute("data-max-bytes"));
    var maxFiles = Number(input.getAttribute("data-max-files"));
    var accepted = (input.getAttribute("data-searchable") || input.getAttribute("accept") || "").split(",");
    // The composer's rule (chat.services.files.tools_for_file): with Code Interpreter on,
    // the chosen assistant takes a file of any type.
    var anyTypeFor = input.getAttribute("data-any-type-for");
    var picker = input.form && input.form.elements.namedItem("assistant");
    var anyType = anyTypeFor !== null && picker && anyTypeFor.split(" ").indexOf(picker.value) >= 0;
    var problems = [];
    if (input.files.length > maxFiles) problems.push("Attach at most " + maxFiles + " files at a time.");
    Array.prototype.forEach.call(input.files, function (file) {
      var dot = file.name.lastIndexOf(".");
      var ext = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
      if (file.size > maxBytes) {
        problems.push(file.name + " is " + describeSize(file.size) + "; files can be at most " + describeSize(maxBytes) + ".");
      } else if (!anyType && accepted.indexOf(ext) < 0) {
        problems.push(file.name + ": files of type “" + (ext || "no extension") + "” cannot be searched." +
          (anyTypeFor !== null ? " Code Interpreter could use it (it takes any file), but it is off for this assistant." : ""));
      }
    });
    var note = document.getElementById(input.getAttribute("aria-describedby"));
    if (note) {
      note.textContent = problems.join(" ");
      note.hidden = problems.length === 0;
    }
    input.setAttribute("aria-invalid", problems.length ? "true" : "false");
    if (problems.length) input.value = "";
  });

  // A notice put in place by htmx (a rename) is brief: it leaves after a while. The live
  // region itself stays, for the next one to be announced.
  var noticeTimer = null;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var notice = event.detail && event.detail.target; // filled in place (innerHTML)
    if (!notice || notice.id !== "notice") return;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 10000);
  });

  // A request htmx sent that failed swaps nothing: say so, in the form's own problem slot
  // (the composer's) or else in the page's notice. What was typed stays where it was. A
  // form may hold a <template data-problem-NNN> with what an answer NNN means there.
  function showRequestProblem(event, text) {
    var elt = event.detail && event.detail.elt;
    var form = elt && elt.closest && elt.closest("form");
    var slot = (form && form.querySelector("[data-request-problem]")) || document.getElementById("notice");
    if (!slot) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var explained = form && form.querySelector("template[data-problem-" + status + "]");
    slot.textContent = "";
    if (explained) {
      slot.appendChild(explained.content.cloneNode(true));
    } else {
      var line = document.createElement("p");
      line.textContent = text;
      slot.appendChild(line);
    }
    slot.hidden = false;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    showRequestProblem(event, status === 403 ?
      "That was refused: your session may have ended. Reload the page (copy what you typed first)." :
      "That did not work (the server answered " + status + "). Nothing you typed was lost; try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    showRequestProblem(event, "The server could not be reached. Nothing you typed was lost; try again when you are back online.");
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
    var slot = form && form.querySelector("[data-request-problem]");
    if (slot) slot.hidden = true;
  });

  // Upload progress of the composer (htmx reports the request's upload progress).
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest && event.target.closest("form");
    var bar = form && form.querySelector(".upload-progress");
    var input = form && form.querySelector("input[type=file]");
    if (!bar || !input || !input.files.length || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });
})();
