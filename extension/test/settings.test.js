import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_SETTINGS, idleDetectionSeconds, parseIdleMinutes, settingsFrom } from "../lib/settings.js";

test("idle is asked about after 10 minutes unless the person set otherwise", () => {
  assert.equal(DEFAULT_SETTINGS.idleMinutes, 10);
  assert.deepEqual(settingsFrom(undefined), { idleMinutes: 10 });
  assert.deepEqual(settingsFrom({ idleMinutes: 25 }), { idleMinutes: 25 });
  assert.equal(idleDetectionSeconds({ idleMinutes: 25 }), 1500);
  assert.equal(idleDetectionSeconds(undefined), 600);
});

test("the account's idle minutes are the default of the person's own choice", () => {
  assert.deepEqual(settingsFrom(undefined, 25), { idleMinutes: 25 });
  assert.deepEqual(settingsFrom({}, 25), { idleMinutes: 25 });
  assert.deepEqual(settingsFrom({ idleMinutes: 5 }, 25), { idleMinutes: 5 });
  assert.equal(idleDetectionSeconds(settingsFrom(undefined, 30)), 1800);
  for (const bad of [0, 241, "20", null, undefined, 2.5]) {
    assert.deepEqual(settingsFrom(undefined, bad), { idleMinutes: 10 }, String(bad));
  }
});

test("a damaged stored setting falls back to the default", () => {
  for (const bad of [0, -5, 1.5, "20", null, 100000]) {
    assert.deepEqual(settingsFrom({ idleMinutes: bad }), { idleMinutes: 10 }, String(bad));
  }
  assert.deepEqual(settingsFrom("junk"), { idleMinutes: 10 });
});

test("the form takes whole minutes from 1 to 240 and says what it wants otherwise", () => {
  assert.deepEqual(parseIdleMinutes(" 15 "), { value: 15 });
  assert.deepEqual(parseIdleMinutes("1"), { value: 1 });
  assert.deepEqual(parseIdleMinutes("240"), { value: 240 });
  for (const bad of ["", "0", "241", "2.5", "-3", "ten", "1e2"]) {
    assert.deepEqual(parseIdleMinutes(bad), { error: "Enter whole minutes from 1 to 240." }, bad);
  }
});
