// Every time on a page is sent by the server as UTC, in a <time datetime="2026-11-30T04:14:05Z"
// data-local-time="STYLE"> element with no text of its own; this script writes the text in
// the reader's time zone and locale (12- or 24-hour as their locale has it), the way
// messengers do: "9:40 PM" today, "Yesterday", a weekday this week, a date before.
// The server-rendered first rows (web/first_rows.py) and the live list use the same element,
// so both read the same. Elements added later (live messages, another page of rows) are
// formatted as they arrive (MutationObserver), and all of them again every minute so "Today"
// becomes "Yesterday" at midnight. No eval, no inline script: the page's CSP holds.
//
// Styles:
//   list     a conversation row: "9:40 PM" | "Yesterday" | "Mon" | "Nov 14" | "Nov 14, 2025"
//   bubble   a message or a view: "9:40 PM" | "Yesterday, 9:40 PM" | "Nov 14, 9:40 PM"
//   receipt  after "Read": like bubble, so a receipt older than today carries its date
//   full     the audit log: "Nov 14, 2026, 9:40:05 PM" (always the year and seconds)
(() => {
  const SELECTOR = "time[data-local-time]";
  const DAY_MS = 24 * 60 * 60 * 1000;
  // timeStyle "short" is the locale's own clock: "9:40 PM" (en-US), "21:40" (en-GB, de).
  const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
  const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
  const monthDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const fullDate = new Intl.DateTimeFormat(undefined,
    { month: "short", day: "numeric", year: "numeric" });
  const withSeconds = new Intl.DateTimeFormat(undefined,
    { dateStyle: "medium", timeStyle: "medium" });
  const title = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const capital = (text) => text.charAt(0).toLocaleUpperCase() + text.slice(1);
  const yesterdayWord = capital(relative.format(-1, "day"));

  // Whole local days from the date to today (0 today, 1 yesterday; negative: the future).
  const daysAgo = (date, now) => {
    const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    return Math.round((start(now) - start(date)) / DAY_MS);
  };

  const text = (date, style, now) => {
    if (style === "full") return withSeconds.format(date);
    const days = daysAgo(date, now);
    const sameYear = date.getFullYear() === now.getFullYear();
    if (style === "list") {
      if (days === 0) return clock.format(date);
      if (days === 1) return yesterdayWord;
      if (days > 1 && days < 7) return weekday.format(date);
      return sameYear ? monthDay.format(date) : fullDate.format(date);
    }
    // bubble, receipt
    if (days === 0) return clock.format(date);
    if (days === 1) return `${yesterdayWord}, ${clock.format(date)}`;
    return `${(sameYear ? monthDay : fullDate).format(date)}, ${clock.format(date)}`;
  };

  const format = (element, now) => {
    const value = element.getAttribute("datetime");
    const date = value ? new Date(value) : null;
    const shown = date && !Number.isNaN(date.getTime())
      ? text(date, element.getAttribute("data-local-time"), now) : "";
    // Only when it changed: our own write is a mutation too, and must not loop.
    if (element.textContent !== shown) element.textContent = shown;
    const full = date && shown ? title.format(date) : "";
    if (element.getAttribute("title") !== full) element.setAttribute("title", full);
  };

  const formatAll = (root) => {
    const now = new Date();
    if (root.matches && root.matches(SELECTOR)) format(root, now);
    if (root.querySelectorAll) for (const el of root.querySelectorAll(SELECTOR)) format(el, now);
  };

  const observer = new MutationObserver((records) => {
    const now = new Date();
    for (const record of records) {
      if (record.type === "attributes") {
        if (record.target.matches(SELECTOR)) format(record.target, now);
        continue;
      }
      for (const node of record.addedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE) formatAll(node);
      }
    }
  });
  // datetime: React reuses an element for another row; data-local-time: for another style.
  observer.observe(document.documentElement, {
    childList: true, subtree: true, attributes: true,
    attributeFilter: ["datetime", "data-local-time"],
  });
  formatAll(document.documentElement);
  setInterval(() => formatAll(document.documentElement), 60 * 1000);
})();
