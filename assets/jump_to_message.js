// A thread opened from a search result marks the found message (data-found="true", see
// state/message_jump.py): bring it to the middle of the thread once per address, when it
// appears, and give it focus for keyboard and screen-reader users. No eval: the CSP holds.
(() => {
  let revealedFor = "";
  const reveal = () => {
    if (revealedFor === location.href) return;
    const found = document.querySelector("[role='log'] [data-found='true']");
    if (!found) return;
    revealedFor = location.href;
    found.setAttribute("tabindex", "-1");
    found.scrollIntoView({ block: "center" });
    found.focus({ preventScroll: true });
  };
  new MutationObserver(reveal).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-found"],
  });
  reveal();
})();
