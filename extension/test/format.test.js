import assert from "node:assert/strict";
import { test } from "node:test";

import { elapsedSeconds, formatHM, formatHMS, pathText } from "../lib/format.js";

test("h:mm for the badge", () => {
  assert.equal(formatHM(0), "0:00");
  assert.equal(formatHM(59), "0:00");
  assert.equal(formatHM(60), "0:01");
  assert.equal(formatHM(3599), "0:59");
  assert.equal(formatHM(3600 + 5 * 60 + 9), "1:05");
  assert.equal(formatHM(26 * 3600), "26:00");
});

test("h:mm:ss for the popup", () => {
  assert.equal(formatHMS(0), "0:00:00");
  assert.equal(formatHMS(9.9), "0:00:09");
  assert.equal(formatHMS(3600 + 5 * 60 + 9), "1:05:09");
});

test("nonsense durations show as zero", () => {
  for (const value of [-5, Number.NaN, undefined, null, Infinity]) {
    assert.equal(formatHMS(value), "0:00:00", String(value));
  }
});

test("elapsed time is the server's duration plus the local time since it was read", () => {
  const fetchedAt = 1_000_000;
  assert.equal(elapsedSeconds({ duration: 120 }, fetchedAt, fetchedAt), 120);
  assert.equal(elapsedSeconds({ duration: 120 }, fetchedAt, fetchedAt + 61_000), 181);
  // a local clock that moved backwards never makes it shrink below what the server said
  assert.equal(elapsedSeconds({ duration: 120 }, fetchedAt, fetchedAt - 5_000), 120);
});

test("a task's path reads root first", () => {
  assert.equal(pathText(["Salesforce", "Opportunities"]), "Salesforce › Opportunities");
  assert.equal(pathText([]), "");
});
