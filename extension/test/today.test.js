import assert from "node:assert/strict";
import { test } from "node:test";

import { atClockOnDayOf, clockText, dayBounds, entryEdits, spanText } from "../lib/today.js";

process.env.TZ = "UTC";

test("today is the local day around now", () => {
  const { from, to } = dayBounds(Date.UTC(2026, 0, 5, 15, 30));
  assert.equal(from.getHours(), 0);
  assert.equal(to - from, 24 * 3600 * 1000);
  assert.ok(from.getTime() <= Date.UTC(2026, 0, 5, 15, 30) && Date.UTC(2026, 0, 5, 15, 30) < to.getTime());
});

test("spans read as clock times; a running one ends now", () => {
  const start = new Date(2026, 0, 5, 9, 5).toISOString();
  const end = new Date(2026, 0, 5, 10, 15).toISOString();
  assert.equal(clockText(start), "09:05");
  assert.equal(spanText({ start, end }), "09:05–10:15");
  assert.equal(spanText({ start, end: null }), "09:05–now");
});

test("an edit sends only what changed", () => {
  const entry = { start: new Date(2026, 0, 5, 9, 0).toISOString(), end: new Date(2026, 0, 5, 10, 0).toISOString(), note: "a" };
  assert.deepEqual(entryEdits(entry, { start: "09:00", end: "10:00", note: "a" }), { edits: {} });
  const moved = entryEdits(entry, { start: "08:30", end: "10:00", note: "a" }).edits;
  assert.equal(moved.start, atClockOnDayOf(entry.start, "08:30"));
  assert.equal(moved.end, entry.end.replace(/\.\d{3}Z$/, "Z"));
  assert.deepEqual(entryEdits(entry, { start: "9h", end: "10:00", note: "a" }), { error: "Enter the start as hh:mm." });
  // a running entry has only a start (and a note)
  const running = { start: entry.start, end: null, note: "" };
  assert.deepEqual(Object.keys(entryEdits(running, { start: "08:45", note: "" }).edits), ["start"]);
});

test("an end before the start is the next day", () => {
  const entry = { start: new Date(2026, 0, 5, 23, 0).toISOString(), end: new Date(2026, 0, 5, 23, 30).toISOString(), note: "" };
  const { edits } = entryEdits(entry, { start: "23:00", end: "00:30", note: "" });
  assert.equal(new Date(edits.end) - new Date(entry.start), 90 * 60 * 1000);
});
