// The reply box's draft, kept on the server (services/drafts.py): a clinician interrupted
// mid-reply finds the text again in another tab or on another device.
//
// - Typing in a reply box (components/composer.py) saves its text after a pause, through the
//   page state's save_draft (window.careDraftSave), naming the box's conversation.
// - When a conversation opens, the server's draft for it (#draft-link, data-draft /
//   data-draft-for) fills the box if the box is empty: never over what is being typed.
// - Switching conversations in place saves the box's text for the one left, then shows the
//   draft of the one opened (the box no longer carries text from one thread to another).
// - A submit (assets/outbox.js, "care-outbox-queued") drops the pending save: the send
//   deletes the draft on the server in the same transaction.
// The text lives only in the box and the page state; sign-out empties both.
(() => {
  const PAUSE_MS = 800;
  let boxConv = ""; // the conversation whose text the box holds
  let restoredFor = ""; // the conversation whose server draft was already considered
  let timer = null;
  const lastSaved = new Map(); // conversation -> the text last sent to the server

  const form = () => document.querySelector("form[data-outbox]");
  const box = () => form()?.querySelector("textarea[name=body]") || null;
  const link = () => document.getElementById("draft-link");

  const save = (conv, text) => {
    if (!conv || !window.careDraftSave || lastSaved.get(conv) === text) return;
    lastSaved.set(conv, text);
    window.careDraftSave({ conversation_id: conv, body: text });
  };
  const cancel = () => {
    if (timer) clearTimeout(timer.id);
    timer = null;
  };
  const flush = () => {
    if (!timer) return;
    const { conv, text } = timer;
    cancel();
    save(conv, text);
  };

  const setBox = (b, text) => {
    b.value = text;
    b.dispatchEvent(new Event("input", { bubbles: true })); // the box's own height
  };

  const sync = () => {
    const b = box();
    const conv = form()?.dataset.conversationId || "";
    if (!b || !conv) {
      flush();
      boxConv = restoredFor = "";
      return;
    }
    if (conv !== boxConv) {
      flush(); // the text typed for the conversation left is its draft now
      if (boxConv) setBox(b, "");
      boxConv = conv;
      restoredFor = "";
    }
    const l = link();
    if (l && l.dataset.draftFor === conv && restoredFor !== conv) {
      restoredFor = conv;
      const draft = l.dataset.draft || "";
      if (!b.value && draft) {
        lastSaved.set(conv, draft);
        setBox(b, draft);
      }
    }
  };

  window.addEventListener("input", (event) => {
    const b = event.target;
    if (!(b instanceof HTMLTextAreaElement) || !b.matches("form[data-outbox] textarea[name=body]")) return;
    const conv = b.form?.dataset.conversationId || "";
    if (!conv || conv !== boxConv) return; // a restore or a switch, not typing
    cancel();
    const text = b.value;
    timer = { conv, text, id: setTimeout(() => { timer = null; save(conv, text); }, PAUSE_MS) };
  }, true);
  window.addEventListener("care-outbox-queued", (event) => {
    const conv = event.detail?.conv || "";
    if (timer && timer.conv === conv) cancel();
    lastSaved.set(conv, ""); // the server deletes the draft with the send
  });
  // Leaving the page mid-pause: the text still goes (the socket may still carry it).
  window.addEventListener("pagehide", flush);
  window.addEventListener("care-draft-ready", sync);
  let scheduled = false;
  new MutationObserver(() => {
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(() => { scheduled = false; sync(); });
    }
  }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true,
    attributeFilter: ["data-conversation-id", "data-draft", "data-draft-for"],
  });
})();
