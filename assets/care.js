// A click with a modifier (Ctrl/Cmd: new tab, Shift: new window, Alt: download) on an in-app
// link goes to the browser, as on any link: the app's own navigation (an onClick that
// navigates in place) never sees it. Capturing on window runs before React's listeners.
window.addEventListener("click", (event) => {
  if (!(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey)) return;
  if (event.target instanceof Element && event.target.closest("a[data-in-app]")) {
    event.stopPropagation();
  }
}, true);
