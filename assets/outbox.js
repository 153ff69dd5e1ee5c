// The tab's outbox: nothing a user types is lost to a dropped connection, a server restart or
// a reload (the way Signal, WhatsApp and Matrix clients keep a local outbox).
//
// On submit of a reply form (components/composer.py) this script, before React sees the event:
//   1. gives the message its own id (crypto.randomUUID), made here and never by the server;
//   2. keeps it in sessionStorage under the signed-in user's outbox name, then clears the box;
//   3. draws its bubble ("Sending…") in the thread from that outbox;
//   4. hands it to the page state's send_reply (window.careOutboxSend, installed by the page),
//      one message at a time and in the order typed.
// The server answers with an acknowledgement naming the id (data-outbox-acks): "stored" with
// the sequence number (the stored message, with the same id, takes the bubble's place),
// "failed" with a reason (Retry / Delete), "refused" (nothing to retry) or "retry". A message
// without an answer is sent again with the same id after a reconnect or a time-out; the
// server stores one message per id, so a repeat changes nothing.
// While the connection is lost (data-online="0", components/connection.py) bubbles say
// "Not sent yet — will send when the connection is back" and offer Retry and Delete.
// Explicit sign-out and the sign-in page empty every outbox of the tab; a page of another
// user empties the others' outboxes before anything is drawn.
(() => {
  const PREFIX = "care-outbox:";
  // Whose outbox this tab held last: a reload without a connection still finds it.
  const OWNER_KEY = "care-outbox-owner";
  const RESEND_AFTER_MS = 5000; // connected but no answer (lost in flight): send it again
  const TRY_AGAIN_MS = 2000; // the server could not store it now
  const STORED_GRACE_MS = 3000; // a stored message of a thread not on screen leaves the outbox
  // A send not answered within this long says "Not sent yet" even while the socket still
  // counts as connected (a line that died silently is only noticed by the socket's own ping,
  // tens of seconds later).
  const SLOW_MS = 4000;
  const SENDING = "Sending…";
  const OFFLINE = "Not sent yet — will send when the connection is back";

  let owner = "";
  let inflight = null; // {cid, timer}
  let lastAcks = "";
  let lastOnline = true;
  let drawn = "";
  const lastTry = new Map(); // client id -> when it was last handed to the server

  const newId = () => {
    if (window.crypto?.randomUUID) return crypto.randomUUID();
    // Outside a secure context (plain http on a LAN name) randomUUID is missing.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  const storageKey = () => PREFIX + owner;
  const load = () => {
    if (!owner) return [];
    try {
      return JSON.parse(sessionStorage.getItem(storageKey()) || "[]");
    } catch {
      return [];
    }
  };
  const save = (entries) => {
    if (!owner) return;
    if (entries.length) sessionStorage.setItem(storageKey(), JSON.stringify(entries));
    else sessionStorage.removeItem(storageKey());
  };
  const outboxKeys = () => {
    const keys = [];
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      if (k && k.startsWith(PREFIX)) keys.push(k);
    }
    return keys;
  };
  const clearAll = () => {
    outboxKeys().forEach((k) => sessionStorage.removeItem(k));
    sessionStorage.removeItem(OWNER_KEY);
    owner = "";
  };

  const online = () => document.getElementById("connection-state")?.dataset.online !== "0";
  const link = () => document.getElementById("outbox-link");

  // ----- sending, one at a time, in order -----
  const stopInflight = () => {
    if (inflight) clearTimeout(inflight.timer);
    inflight = null;
  };
  const send = (entry) => {
    stopInflight();
    lastTry.set(entry.cid, Date.now());
    inflight = {
      cid: entry.cid,
      timer: setTimeout(() => {
        inflight = null;
        pump();
      }, RESEND_AFTER_MS),
    };
    window.careOutboxSend({ client_msg_id: entry.cid, conversation_id: entry.conv, body: entry.body });
  };
  const pump = () => {
    if (inflight || !owner || !window.careOutboxSend || !online()) return;
    const next = load().find((e) => e.state === "pending");
    if (next) send(next);
  };

  // ----- what the server said -----
  const applyAcks = (entries) => {
    const text = link()?.dataset.outboxAcks || "[]";
    if (text === lastAcks) return false;
    lastAcks = text;
    let acks;
    try {
      acks = JSON.parse(text);
    } catch {
      return false;
    }
    let changed = false;
    for (const ack of acks) {
      const i = entries.findIndex((e) => e.cid === ack.c);
      if (inflight && inflight.cid === ack.c) stopInflight();
      if (i < 0) continue;
      const entry = entries[i];
      if (ack.k === "stored") {
        if (entry.state !== "stored") {
          entries[i] = { ...entry, state: "stored", seq: ack.seq, storedAt: Date.now() };
          changed = true;
        }
      } else if (ack.k === "refused") {
        entries.splice(i, 1);
        changed = true;
      } else if (ack.k === "failed") {
        if (entry.state === "pending") {
          entries[i] = { ...entry, state: "failed", error: ack.e || "" };
          changed = true;
        }
      } else if (ack.k === "retry" && entry.state === "pending") {
        setTimeout(pump, TRY_AGAIN_MS);
      }
    }
    return changed;
  };

  // A stored message of the sender's own is on screen with the same id: its bubble goes.
  const onScreen = (cid) =>
    document.querySelector(`[data-client-id="${CSS.escape(cid)}"]:not(.outbox-bubble)`) !== null;

  const settle = (entries) => {
    const now = Date.now();
    const openConv = currentConversation();
    return entries.filter((e) => {
      if (onScreen(e.cid)) return false;
      if (e.state === "stored") {
        // The thread shows it as soon as it is open; a thread not on screen needs no bubble.
        return e.conv === openConv && now - (e.storedAt || 0) < STORED_GRACE_MS;
      }
      return true;
    });
  };

  // ----- drawing -----
  const currentConversation = () =>
    document.getElementById("outbox-bubbles")?.dataset.conversationId || "";

  const button = (label, handler, cid) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("aria-label", `${label} message`);
    b.addEventListener("click", () => handler(cid));
    return b;
  };

  // Once a message has gone unanswered that long it keeps saying "Not sent yet", with Retry and
  // Delete, through the automatic resends (every 5 s, after a reconnect, after another bubble is
  // deleted): otherwise the label would flip back to "Sending…" and the buttons vanish on each
  // one. Only the user's own Retry shows "Sending…" again; an acknowledgement removes the bubble.
  const unanswered = new Set();
  const waiting = (entry) => {
    if (unanswered.has(entry.cid)) return true;
    const slow = Date.now() - (lastTry.get(entry.cid) || entry.at) >= SLOW_MS;
    if (slow) unanswered.add(entry.cid);
    return slow;
  };

  const bubble = (entry, isOnline) => {
    const el = document.createElement("div");
    el.className = "outbox-bubble";
    el.setAttribute("role", "article");
    el.dataset.testid = "message";
    el.dataset.clientId = entry.cid;
    const state = entry.state === "failed" ? "failed"
      : isOnline && !waiting(entry) ? "sending" : "offline";
    el.dataset.state = state;
    const sender = document.createElement("div");
    sender.className = "outbox-sender";
    sender.textContent = "You";
    const body = document.createElement("p");
    body.className = "outbox-body";
    body.textContent = entry.body; // always text, never HTML
    const status = document.createElement("div");
    status.className = "outbox-status";
    const label = document.createElement("span");
    label.className = "message-status";
    label.textContent =
      state === "failed" ? `Not sent: ${entry.error}` : state === "offline" ? OFFLINE : SENDING;
    status.append(label);
    if (state !== "sending") status.append(button("Retry", retry, entry.cid), button("Delete", remove, entry.cid));
    el.append(sender, body, status);
    return el;
  };

  const draw = (entries) => {
    const box = document.getElementById("outbox-bubbles");
    if (!box) return;
    const conv = box.dataset.conversationId;
    const shown = entries.filter((e) => e.conv === conv && e.state !== "stored");
    const isOnline = online();
    const signature = JSON.stringify([conv, isOnline,
      shown.map((e) => [e.cid, e.state, e.error, waiting(e)])]);
    if (signature === drawn && box.childElementCount === shown.length) return;
    drawn = signature;
    box.replaceChildren(...shown.map((e) => bubble(e, isOnline)));
  };

  const retry = (cid) => {
    const entries = load();
    const entry = entries.find((e) => e.cid === cid);
    if (!entry) return;
    entry.state = "pending";
    entry.error = "";
    unanswered.delete(cid);
    save(entries);
    draw(entries);
    // Pressed while offline, it is sent anyway: Reflex holds it until the socket is back.
    if (window.careOutboxSend && (!inflight || inflight.cid === cid)) send(entry);
  };

  const remove = (cid) => {
    if (inflight && inflight.cid === cid) stopInflight();
    unanswered.delete(cid);
    const entries = load().filter((e) => e.cid !== cid);
    save(entries);
    draw(entries);
    pump();
  };

  // ----- keeping up with the page -----
  const adoptOwner = () => {
    const name = link()?.dataset.outboxOwner || "";
    if (!name) {
      // Not said yet (no connection since a reload): the tab's last owner, if any.
      if (!owner) owner = sessionStorage.getItem(OWNER_KEY) || "";
      return;
    }
    if (name === owner) return;
    owner = name;
    sessionStorage.setItem(OWNER_KEY, name);
    stopInflight();
    lastAcks = "";
    // Another user's unsent messages never show in this tab.
    outboxKeys().filter((k) => k !== storageKey()).forEach((k) => sessionStorage.removeItem(k));
  };

  let scheduled = false;
  const sync = () => {
    scheduled = false;
    adoptOwner();
    if (!owner) return;
    let entries = load();
    const before = JSON.stringify(entries);
    applyAcks(entries);
    entries = settle(entries);
    if (JSON.stringify(entries) !== before) save(entries);
    const isOnline = online();
    if (isOnline !== lastOnline) {
      lastOnline = isOnline;
      // A message sent just before the connection dropped may never have arrived.
      if (isOnline) stopInflight();
    }
    draw(entries);
    pump();
  };
  // Runs before the browser paints the React update that caused it: a stored message and its
  // bubble are never on screen together.
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(sync);
    }
  };

  const onSubmit = (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("form[action$='/api/auth/logout']")) {
      const waiting = load().filter((e) => e.state !== "stored").length;
      if (waiting && !window.confirm(`${waiting} message(s) not sent yet will be discarded. Sign out?`)) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      clearAll();
      // Split deployment: the backend's Clear-Site-Data reaches only its own origin, so the
      // tab's Reflex token (this origin's sessionStorage) is dropped here; the next user of
      // this tab starts a new, empty state tree, as on one origin.
      if (new URL(form.action, location.href).origin !== location.origin) {
        sessionStorage.clear();
      }
      return;
    }
    if (!form.matches("form[data-outbox]")) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    adoptOwner();
    const box = form.querySelector("textarea[name=body]");
    const conv = form.dataset.conversationId;
    if (!box || !conv || !window.careOutboxSend) return;
    const body = box.value;
    if (!body.trim()) {
      // Nothing to keep; the server explains (or sends the waiting files on their own).
      window.careOutboxSend({ client_msg_id: newId(), conversation_id: conv, body });
      return;
    }
    if (!owner) return; // the page has not said whose outbox this is yet: keep the text
    const entries = load();
    entries.push({ cid: newId(), conv, body, at: Date.now(), state: "pending" });
    save(entries); // kept before the box is cleared
    box.value = "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
    // The draft keeper (assets/drafts.js) drops its pending save: the send clears the draft.
    window.dispatchEvent(new CustomEvent("care-outbox-queued", { detail: { conv } }));
    draw(entries);
    pump();
  };

  if (location.pathname.startsWith("/login")) clearAll();
  // Capturing on window runs before React's own submit listener.
  window.addEventListener("submit", onSubmit, true);
  window.addEventListener("care-outbox-ready", schedule);
  // A waiting bubble turns to "Not sent yet" on time, with nothing else happening on the page.
  setInterval(() => { if (owner && load().length) schedule(); }, 1000);
  new MutationObserver(schedule).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["data-online", "data-outbox-acks", "data-outbox-owner", "data-conversation-id", "data-client-id"],
  });
  // For tests and support: what the outbox holds right now (ids and states, no text).
  window.careOutbox = { pending: () => load().map((e) => ({ cid: e.cid, conv: e.conv, state: e.state })) };
})();
