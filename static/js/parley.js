// Parley: small enhancements on top of server-rendered pages. Every page
// works without this file; with it, the composer behaves like a chat box.
(function () {
  "use strict";

  // A folded sidebar stays folded (on wide screens), from the first paint.
  var SIDEBAR_KEY = "parley.sidebar";
  function storedSidebar() {
    try { return window.localStorage.getItem(SIDEBAR_KEY); } catch (e) { return null; }
  }
  if (storedSidebar() === "folded") document.documentElement.classList.add("sidebar-folded");

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
    // Enter sends only with this file: the hint says so only now.
    var keys = textarea.form && textarea.form.querySelector(".hint-keys[data-js-text]");
    if (keys) keys.textContent = keys.dataset.jsText;
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
    if (box.id === "sidebar-q") setSidebarFolded(false);
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
    var status = document.getElementById(button.dataset.copyStatus) ||
      (button.closest(".share-body") && button.closest(".share-body").querySelector(".copy-status"));
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
    if (target && target.tagName === "DETAILS") target = target.querySelector("summary");
    if (target) target.focus();
  });

  // Copy buttons on every message (shown by this file) and on every code
  // block (added by it, in the block's bar beside its language). What was
  // copied is said in the pane's live region, for screen readers too.
  function copyText(text, button) {
    function said(message) {
      var live = document.getElementById("announcer");
      if (live) {
        live.textContent = "";
        window.requestAnimationFrame(function () { live.textContent = message; });
      }
      var label = button.firstChild;
      if (label && label.nodeType === 3 && message === "Copied") {
        label.nodeValue = "Copied";
        window.setTimeout(function () { label.nodeValue = "Copy"; }, 2000);
      }
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      area.remove();
      button.focus();
      said(done ? "Copied" : "Could not copy: select the text and press Ctrl+C");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said("Copied"); }, fallback);
    } else {
      fallback();
    }
  }
  function messageText(body) {
    // As shown, less the code blocks' bars ("python", "Copy").
    var bars = body.querySelectorAll(".code-bar");
    bars.forEach(function (bar) { bar.hidden = true; });
    var text = body.innerText.trim();
    bars.forEach(function (bar) { bar.hidden = false; });
    return text;
  }
  function addCopyButtons(scope) {
    scope.querySelectorAll("button[data-copy-message][hidden]").forEach(function (button) { button.hidden = false; });
    scope.querySelectorAll(".message:not(.live) .body pre:not([data-copyable])").forEach(function (pre) {
      pre.setAttribute("data-copyable", "");
      var bar = pre.previousElementSibling;
      if (!bar || !bar.classList.contains("code-bar")) {  // a reply rendered before code blocks had bars
        var block = document.createElement("div");
        block.className = "code-block";
        bar = document.createElement("div");
        bar.className = "code-bar";
        pre.parentNode.insertBefore(block, pre);
        block.appendChild(bar);
        block.appendChild(pre);
      }
      var language = bar.querySelector(".code-lang");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.setAttribute("data-copy-code", "");
      button.appendChild(document.createTextNode("Copy"));
      var named = document.createElement("span");
      named.className = "visually-hidden";
      named.textContent = language ? " the " + language.textContent + " code" : " the code";
      button.appendChild(named);
      bar.appendChild(button);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { addCopyButtons(document); });
  document.addEventListener("htmx:after:swap", function () { addCopyButtons(document); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy-code], button[data-copy-message]");
    if (!button) return;
    if (button.hasAttribute("data-copy-code")) {
      copyText(button.closest(".code-block").querySelector("pre").innerText.replace(/\n$/, ""), button);
    } else {
      copyText(messageText(button.closest(".message").querySelector(".body")), button);
    }
  });

  // A message's time: "just now" and "5 min ago" within the hour, then the
  // hour (or the day) the server wrote; the full time shows on hover.
  function relativeTimes() {
    var now = Date.now();
    document.querySelectorAll("time.message-time[datetime]").forEach(function (time) {
      if (!time.dataset.written) time.dataset.written = time.textContent;
      var age = (now - Date.parse(time.getAttribute("datetime"))) / 1000;
      var text = time.dataset.written;
      if (age < 60) text = "just now";
      else if (age < 3600) text = Math.floor(age / 60) + " min ago";
      if (time.textContent !== text) time.textContent = text;
    });
  }
  document.addEventListener("DOMContentLoaded", relativeTimes);
  document.addEventListener("htmx:after:swap", relativeTimes);
  window.setInterval(relativeTimes, 30000);

  // The desktop's ☰ folds the list of chats away and back; the choice is
  // kept for the next page.
  function setSidebarFolded(folded) {
    document.documentElement.classList.toggle("sidebar-folded", folded);
    try { window.localStorage.setItem(SIDEBAR_KEY, folded ? "folded" : "open"); } catch (e) { /* private mode */ }
    document.querySelectorAll(".sidebar-toggle").forEach(function (button) {
      button.setAttribute("aria-expanded", folded ? "false" : "true");
    });
  }
  function initSidebarToggle() {
    var folded = document.documentElement.classList.contains("sidebar-folded");
    document.querySelectorAll(".sidebar-toggle[hidden]").forEach(function (button) {
      button.hidden = false;
      button.setAttribute("aria-expanded", folded ? "false" : "true");
    });
  }
  document.addEventListener("DOMContentLoaded", initSidebarToggle);
  document.addEventListener("htmx:after:swap", initSidebarToggle);
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".sidebar-toggle");
    if (button) setSidebarFolded(button.getAttribute("aria-expanded") === "true");
  });

  // Shortcuts: Ctrl/Cmd+Shift+O a new chat, Shift+Esc the message box,
  // ? (outside a text field) or Ctrl/Cmd+/ the list of shortcuts.
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function showShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }
  document.addEventListener("keydown", function (event) {
    if (event.isComposing || event.defaultPrevented) return;
    var key = event.key;
    var command = event.ctrlKey || event.metaKey;
    if (command && event.shiftKey && !event.altKey && key.toLowerCase() === "o") {
      var brand = document.querySelector("a.brand");
      if (!brand || !document.getElementById("sidebar")) return;
      event.preventDefault();
      location.assign(brand.href);
    } else if (key === "Escape" && event.shiftKey && !command) {
      var box = document.getElementById("content");
      if (!box) return;
      event.preventDefault();
      box.focus();
    } else if ((command && !event.altKey && key === "/") || (key === "?" && !command && !event.altKey && !typing(event.target))) {
      if (!document.getElementById("shortcuts")) return;
      event.preventDefault();
      showShortcuts();
    }
  });
  function showShortcutButtons() {
    document.querySelectorAll("button[data-open-shortcuts][hidden]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", showShortcutButtons);
  document.addEventListener("htmx:after:swap", showShortcutButtons);
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("button[data-open-shortcuts]")) showShortcuts();
  });

  // The message list opens at its end and stays there as a reply grows
  // (column-reverse anchors it); scrolled up, it stays where the reader is,
  // and "Jump to latest" takes them back down.
  var AWAY = 150; // pixels from the end that count as scrolled up
  function awayFromEnd(list) { return -list.scrollTop > AWAY; }
  function watchMessages() {
    var list = document.getElementById("messages");
    var jump = document.getElementById("jump-latest");
    if (!list || !jump || list.dataset.watched) return;
    list.dataset.watched = "1";
    var update = function () { jump.hidden = !awayFromEnd(list); };
    list.addEventListener("scroll", update, { passive: true });
    jump.addEventListener("click", function () {
      list.scrollTo({ top: 0, behavior: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
      jump.hidden = true;
      var box = document.getElementById("content");
      if (box) box.focus({ preventScroll: true });
    });
    update();
  }
  document.addEventListener("DOMContentLoaded", watchMessages);
  document.addEventListener("htmx:after:swap", watchMessages);

  // A title of spaces only is refused in words, before it is sent.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches("input[data-title]")) return;
    field.setCustomValidity(field.value && !field.value.trim() ? "A title needs at least one letter, digit or sign; spaces alone are not a title." : "");
  });

  // Escape closes the menu (⋯, ⚙) the keyboard is in, giving it back to the
  // menu's button; a click elsewhere closes any open menu.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.isComposing || event.defaultPrevented) return;
    var inside = event.target.closest && event.target.closest("details.thread-actions[open]");
    var open = inside || document.querySelector("details.thread-actions[open]");
    if (!open) return;
    event.preventDefault();
    open.open = false;
    if (inside) open.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.thread-actions[open]").forEach(function (open) {
      if (!open.contains(event.target)) open.open = false;
    });
  });

  // The phone's drawer (the #sidebar target) takes the keyboard when it
  // opens, on the chat shown; closing it gives the keyboard back to its
  // toggle. The chat shown is scrolled into view in the list.
  function currentThreadLink() {
    return document.querySelector('#sidebar a[aria-current="page"]');
  }
  function revealCurrentThread() {
    var link = currentThreadLink();
    if (link && link.offsetParent) link.scrollIntoView({ block: "nearest" });
  }
  window.addEventListener("hashchange", function (event) {
    var sidebar = document.getElementById("sidebar");
    if (!sidebar) return;
    if (location.hash === "#sidebar") {
      revealCurrentThread();
      var target = currentThreadLink() || sidebar.querySelector("a, button, input");
      target.focus();
      // Not yet focusable (the drawer's style not yet applied): on the next frame.
      if (document.activeElement !== target) window.requestAnimationFrame(function () { target.focus(); });
    } else if (event.oldURL.indexOf("#sidebar") >= 0) {
      var toggle = document.querySelector(".drawer-toggle");
      if (toggle && toggle.offsetParent) toggle.focus();
    }
  });
  document.addEventListener("DOMContentLoaded", revealCurrentThread);

  // Select mode: a form's checkboxes (form="<its id>") anywhere on the page.
  // Shift+click (or Shift+Space) ticks the range from the box last clicked;
  // "Select all shown" ticks every box; the form says how many are ticked.
  // Entering or leaving select mode keeps the keyboard on its toggle.
  function selectBoxes(form) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[data-select-box][form="' + form.id + '"]'));
  }
  function countSelected(form) {
    var out = form && form.querySelector("[data-select-count]");
    if (!out) return;
    var ticked = selectBoxes(form).filter(function (box) { return box.checked; }).length;
    var everything = form.querySelector('input[name="all"]');
    out.textContent = everything && everything.checked ? "All" : ticked ? String(ticked) : "None";
  }
  function initSelectMode() {
    document.querySelectorAll("[data-select-all][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }
  var lastBox = null;
  var selectToggled = false;
  document.addEventListener("DOMContentLoaded", initSelectMode);
  document.addEventListener("htmx:after:swap", function () {
    initSelectMode();
    if (!selectToggled) return;
    selectToggled = false;
    var toggle = document.querySelector("[data-select-toggle]");
    if (toggle) toggle.focus();
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-select-toggle]")) selectToggled = true;
    if (target.matches('[data-bulk-form] input[name="all"]')) countSelected(target.form);
    var box = target.closest("input[data-select-box]");
    if (box) {
      if (event.shiftKey && lastBox && lastBox !== box && lastBox.form === box.form) {
        var boxes = selectBoxes(box.form);
        var from = boxes.indexOf(lastBox), to = boxes.indexOf(box);
        if (from >= 0 && to >= 0) {
          boxes.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) {
            each.checked = box.checked;
          });
        }
      }
      lastBox = box;
      countSelected(box.form);
      return;
    }
    var all = target.closest("[data-select-all]");
    if (all) {
      var form = all.closest("form");
      var shown = selectBoxes(form);
      var every = shown.length > 0 && shown.every(function (each) { return each.checked; });
      shown.forEach(function (each) { each.checked = !every; });
      all.textContent = every ? "Select all shown" : "Select none";
      countSelected(form);
    }
  });

  // A thread moved to the trash from its menu takes the menu with it: the
  // keyboard goes to the notice's Undo, and after Undo to the thread put back,
  // rather than to <body>.
  var trashed = null, restored = null;
  function threadIdOf(form, verb) {
    var found = form && (form.getAttribute("action") || "").match(new RegExp("/c/([0-9a-f-]+)/" + verb + "$"));
    return found ? found[1] : null;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[type=submit]");
    if (!button || !button.form) return;
    trashed = threadIdOf(button.form, "delete");
    restored = button.form.classList.contains("undo-form") ? threadIdOf(button.form, "restore") : null;
  });
  document.addEventListener("htmx:after:swap", function () {
    if (document.activeElement && document.activeElement !== document.body) return;
    var target = null;
    if (trashed) {
      target = document.querySelector('#flashes .undo-form[action$="/c/' + trashed + '/restore"] button');
      if (target) trashed = null;
    } else if (restored) {
      target = document.querySelector("#thread-" + restored + " > a");
      if (target) restored = null;
    }
    if (target) target.focus();
  });
})();
