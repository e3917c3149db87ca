// Parley: small enhancements on top of server-rendered pages. Every page
// works without this file; with it, the composer behaves like a chat box.
(function () {
  "use strict";

  // The sidebar groups threads by day in the reader's own time zone.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  } catch (e) { /* the server falls back to UTC */ }

  function checkComposer(textarea) {
    var limit = parseInt(textarea.dataset.maxLength, 10);
    var text = textarea.value;
    var message = "";
    if (!text.trim()) {
      message = "Write a message before sending.";
    } else if (text.length > limit) {
      message = "A message can be at most " + limit.toLocaleString("en") + " characters; this one has " +
        text.length.toLocaleString("en") + ".";
    }
    textarea.setCustomValidity(message);
    return message;
  }

  function initComposer(textarea) {
    if (textarea.dataset.ready) return;
    textarea.dataset.ready = "1";
    checkComposer(textarea);
    textarea.addEventListener("input", function () { checkComposer(textarea); });
    textarea.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      if (checkComposer(textarea)) {
        textarea.reportValidity();
        return;
      }
      var button = textarea.form.querySelector("button[type=submit]");
      if (!button || !button.disabled) textarea.form.requestSubmit(button);
    });
  }

  function init(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("textarea[data-max-length]")) initComposer(scope);
    scope.querySelectorAll("textarea[data-max-length]").forEach(initComposer);
  }

  // A new chat or a rename changes the thread's title without a page load;
  // the tab's title (what the history and a screen reader name) follows it.
  function syncTitle() {
    var heading = document.getElementById("pane-title");
    if (!heading) return;
    var cut = document.title.lastIndexOf(" · ");
    var title = heading.textContent.trim() + (cut >= 0 ? document.title.slice(cut) : "");
    if (document.title !== title) document.title = title;
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:after:swap", function () { init(document); syncTitle(); });

  // Escape closes the phone drawer (opened by the #sidebar link, CSS :target).
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && location.hash === "#sidebar") location.hash = "#main";
  });

  // Ctrl+K (Cmd+K on a Mac) focuses the search box from anywhere: the
  // search page's own, or the sidebar's (opening the drawer on a phone).
  document.addEventListener("keydown", function (event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey || event.key.toLowerCase() !== "k") return;
    var box = document.getElementById("search-q") || document.getElementById("sidebar-q");
    if (!box) return;
    event.preventDefault();
    if (box.id === "sidebar-q" && window.matchMedia("(max-width: 760px)").matches) location.hash = "#sidebar";
    box.focus();
    box.select();
  });

  // A search hit opens its thread at the message (?m=…): bring it into view,
  // in the middle of the pane, whatever the pane's own scrolling did.
  document.addEventListener("DOMContentLoaded", function () {
    var marked = document.querySelector(".message.marked");
    if (marked) marked.scrollIntoView({ block: "center" });
  });

  // Escape cancels an open edit form: the text goes back to the message's,
  // the form closes, and the focus returns to its Edit button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.isComposing || !event.target.closest) return;
    var details = event.target.closest("details.edit-message[open]");
    if (!details) return;
    var form = details.querySelector("form");
    if (form) form.reset();
    details.open = false;
    details.querySelector("summary").focus();
  });

  // A share link's Copy button (hidden until this file runs): copies the
  // link and says so in the panel's status line, for screen readers too.
  function showCopyButtons(scope) {
    scope.querySelectorAll("button[data-copy][hidden]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { showCopyButtons(document); });
  document.addEventListener("htmx:after:swap", function () { showCopyButtons(document); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.dataset.copy);
    if (!field) return;
    var status = button.closest(".share-body") && button.closest(".share-body").querySelector(".copy-status");
    function done(message) { if (status) status.textContent = message; }
    function fallback() {
      field.select();
      done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy the selected link");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done("Copied"); }, fallback);
    } else {
      fallback();
    }
  });
  // After the message list is replaced (an edit, a new version, a step
  // between versions), give the keyboard back to the same control of the
  // same place in the thread (data-slot), or the next best one there, or the
  // list: never leave it on <body>.
  var slot = null;
  document.addEventListener("htmx:before:swap", function () {
    var active = document.activeElement;
    var owner = active && active.closest ? active.closest("[data-slot]") : null;
    slot = owner ? owner.dataset.slot : null;
  });
  document.addEventListener("htmx:after:swap", function () {
    var wanted = slot;
    slot = null;
    if (!wanted || (document.activeElement && document.activeElement !== document.body)) return;
    var place = wanted.split(":")[0];
    var target = document.querySelector('[data-slot="' + wanted + '"]:not([disabled])') ||
      document.querySelector('[data-slot^="' + place + ':"]:not([disabled])') ||
      document.getElementById("messages");
    if (target) target.focus();
  });
})();
