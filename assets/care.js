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
// screen readers). After each press the button is watched afresh a moment later, so a thread
// whose first pages do not fill its box goes on loading until they do or its history starts.
const REARM_MS = 400;
const resting = new WeakSet();  // pressed a moment ago: not watched again until REARM_MS
const olderObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const button = entry.target;
    if (!entry.isIntersecting) continue;
    olderObserver.unobserve(button);
    resting.add(button);
    // disabled for mutation check  // disabled: a page is on its way already
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
