// Quick replies in the reply box (components/composer.py, providers only).
// The open conversation's quick replies, already filled in by the server, sit as JSON in
// #quick-replies. A click on a [data-quick-reply] button, or typing "/name" and pressing Tab
// or Enter, puts that text into the box at the caret, where it can be edited before sending:
// nothing is sent from here (the outbox script sends what the box holds).
(function () {
  "use strict";
  function replies() {
    var el = document.getElementById("quick-replies");
    try { return JSON.parse((el && el.dataset.quickReplies) || "[]"); } catch (e) { return []; }
  }
  function box() { return document.querySelector("form[data-outbox] textarea[name=body]"); }
  function find(name) {
    var all = replies();
    var exact = all.filter(function (q) { return q.name === name; });
    if (exact.length) return exact[0];
    var starts = all.filter(function (q) { return q.name.indexOf(name) === 0; });
    return starts.length === 1 ? starts[0] : null;  // a unique prefix is enough
  }
  function setValue(area, value, caret) {
    // React keeps its own copy of an input's value: set it through the native setter and
    // announce the change so the page's handlers (typing indicator) see it.
    var setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(area, value);
    area.dispatchEvent(new Event("input", { bubbles: true }));
    area.focus();
    area.setSelectionRange(caret, caret);
  }
  function insert(area, text, replaceFrom) {
    var end = area.selectionEnd == null ? area.value.length : area.selectionEnd;
    var start = replaceFrom == null ? (area.selectionStart == null ? end : area.selectionStart)
      : replaceFrom;
    var before = area.value.slice(0, start), after = area.value.slice(end);
    setValue(area, before + text + after, (before + text).length);
  }
  window.careInsertQuickReply = function (name) {
    var q = find(name), area = box();
    if (!q || !area) return false;
    insert(area, q.body);
    return true;
  };
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-quick-reply]");
    if (!button) return;
    event.preventDefault();
    window.careInsertQuickReply(button.getAttribute("data-quick-reply"));
    var menu = button.closest("details");
    if (menu) menu.open = false;
  });
  // Capture phase on the document: before React's own Enter-sends handler on the box.
  document.addEventListener("keydown", function (event) {
    if ((event.key !== "Tab" && event.key !== "Enter") || event.shiftKey || event.isComposing) return;
    var area = event.target;
    if (!area || area !== box()) return;
    var caret = area.selectionStart;
    var match = /(^|\s)\/([a-z0-9_-]+)$/i.exec(area.value.slice(0, caret));
    if (!match) return;
    var q = find(match[2].toLowerCase());
    if (!q) return;
    event.preventDefault();
    event.stopPropagation();
    insert(area, q.body, caret - match[2].length - 1);
  }, true);
})();
