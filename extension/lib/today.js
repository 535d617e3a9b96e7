// Today's entries as the popup lists them (no chrome.* here). Days are the person's local days.

// [from, to) of the local day containing `nowMs`.
export function dayBounds(nowMs = Date.now()) {
  const from = new Date(nowMs);
  from.setHours(0, 0, 0, 0);
  const to = new Date(from);
  to.setDate(to.getDate() + 1);
  return { from, to };
}

function twoDigits(n) {
  return String(n).padStart(2, "0");
}

// "09:05": a time of day, local, for a time input and for people.
export function clockText(iso) {
  const d = new Date(iso);
  return `${twoDigits(d.getHours())}:${twoDigits(d.getMinutes())}`;
}

// "09:00–10:15", or "09:00–now" while it runs.
export function spanText(entry) {
  return `${clockText(entry.start)}–${entry.end ? clockText(entry.end) : "now"}`;
}

function isoAt(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// The ISO time of `hhmm` ("14:30", local) on the local day of `baseIso`; null when `hhmm` is
// not a time of day.
export function atClockOnDayOf(baseIso, hhmm) {
  const match = /^(\d{1,2}):(\d{2})$/.exec(String(hhmm || "").trim());
  if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) return null;
  const d = new Date(baseIso);
  d.setHours(Number(match[1]), Number(match[2]), 0, 0);
  return isoAt(d);
}

// What an edit form sends: {edits} with only the fields that changed, or {error}. An end before
// the start means the next day (an entry past midnight).
export function entryEdits(entry, { start, end, note }) {
  const edits = {};
  const newStart = atClockOnDayOf(entry.start, start);
  if (newStart === null) return { error: "Enter the start as hh:mm." };
  if (clockText(entry.start) !== start) edits.start = newStart;
  if (entry.end) {
    let newEnd = atClockOnDayOf(entry.end, end);
    if (newEnd === null) return { error: "Enter the end as hh:mm." };
    if (new Date(newEnd) <= new Date(edits.start || entry.start)) {
      newEnd = isoAt(new Date(new Date(newEnd).getTime() + 24 * 3600 * 1000));
    }
    if (clockText(entry.end) !== end || edits.start) edits.end = newEnd;
  }
  if (note !== undefined && (entry.note || "") !== note) edits.note = note;
  return { edits };
}
