// A click with a modifier (Ctrl/Cmd: new tab, Shift: new window, Alt: download) on an in-app
// link goes to the browser, as on any link: the app's own navigation (an onClick that
// navigates in place) never sees it. Capturing on window runs before React's listeners.
window.addEventListener("click", (event) => {
  if (!(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey)) return;
  if (event.target instanceof Element && event.target.closest("a[data-in-app]")) {
    event.stopPropagation();
  }
}, true);

// Older messages load as the reader scrolls up to them: when a thread's "Load older messages"
// button comes into view, it is pressed for them (it stays a real button for the keyboard and
// screen readers). The page added above leaves the reader where they were (keepPlace: else
// the view would stay at the top, in sight of the button, and load page after page).
// After each press the button is watched afresh a moment later: a thread whose pages do not
// fill its box goes on loading until they do or its history starts.
const REARM_MS = 400;
const keepPlace = (button) => {
  // React reuses the message elements by position, so the browser's scroll anchoring would
  // keep the top element (now showing the new page) in view. Without anchoring while the page
  // goes in, the column-reverse box keeps its distance from the newest message instead.
  const log = button.closest("[role='log']");
  if (!log) return;
  const shown = () => log.querySelectorAll("[role='article']").length;
  const before = shown();
  log.style.overflowAnchor = "none";
  const restore = () => {
    watch.disconnect();
    setTimeout(() => { log.style.overflowAnchor = ""; }, 200);  // after that layout
  };
  const watch = new MutationObserver(() => { if (shown() !== before) restore(); });
  watch.observe(log, { childList: true, subtree: true });
  setTimeout(restore, 10000);
};
const resting = new WeakSet();  // pressed a moment ago: not watched again until REARM_MS
const olderObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const button = entry.target;
    if (!entry.isIntersecting) continue;
    olderObserver.unobserve(button);
    resting.add(button);
    if (!button.disabled) {  // disabled: a page is on its way already
      keepPlace(button);
      button.click();
    }
    setTimeout(() => {
      resting.delete(button);
      if (button.isConnected) olderObserver.observe(button);
    }, REARM_MS);
  }
});
const watchOlderButtons = () => {
  for (const button of document.querySelectorAll("[data-load-older]")) {
    // Observing a watched element again changes nothing.
    if (!resting.has(button)) olderObserver.observe(button);
  }
};
new MutationObserver(watchOlderButtons).observe(document.documentElement,
  { childList: true, subtree: true });

// Split deployment (the pages on one origin, the backend on another of the same site): Reflex
// posts uploads with an XMLHttpRequest that sends no cookies across origins, and the backend
// accepts an upload only with the session cookie (web/request_guard.py). Uploads to another
// origin go with credentials; its CORS answer names only our origin (CARE_PUBLIC_ORIGIN).
// On one origin nothing changes.
(() => {
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    open.call(this, method, url, ...rest);
    try {
      const target = new URL(url, location.href);
      if (target.origin !== location.origin && target.pathname.endsWith("/_upload")) {
        this.withCredentials = true;
      }
    } catch (_) { /* not a URL we know: leave it */ }
  };
})();
