// Elapsed time as people read it (no chrome.* here).

function twoDigits(n) {
  return String(n).padStart(2, "0");
}

function wholeSeconds(seconds) {
  return Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
}

// "1:05" — hours and minutes.
export function formatHM(seconds) {
  const s = wholeSeconds(seconds);
  return `${Math.floor(s / 3600)}:${twoDigits(Math.floor((s % 3600) / 60))}`;
}

// The toolbar badge fits four characters: "9:59", then whole hours "10h" … "99h" (a timer
// runs at most 24 hours; "99h" is the cap for a clock gone wrong).
export function formatBadge(seconds) {
  const s = wholeSeconds(seconds);
  if (s < 10 * 3600) return formatHM(s);
  return `${Math.min(99, Math.floor(s / 3600))}h`;
}

// "1:05:09" — for the popup, which updates every second.
export function formatHMS(seconds) {
  const s = wholeSeconds(seconds);
  return `${formatHM(s)}:${twoDigits(s % 60)}`;
}

// Seconds a running entry has run at `nowMs`: the server's own `duration` when it was read, plus
// the local time since. Using the server's count rather than its `start` keeps a skewed local
// clock out of the figure.
export function elapsedSeconds(entry, fetchedAtMs, nowMs) {
  const base = Number(entry?.duration) || 0;
  return base + Math.max(0, (nowMs - fetchedAtMs) / 1000);
}

// "Salesforce › Opportunities" — a task's ancestors, root first.
export function pathText(path) {
  return Array.isArray(path) ? path.join(" › ") : "";
}
