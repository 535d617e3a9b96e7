// The worker's idle wiring against a stand-in for chrome.storage.local and chrome.idle.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { applyIdleSetting, recordIdleState, settingsChanged } from "../lib/idle-watch.js";
import { saveSettings } from "../lib/storage.js";

let stored;
let intervals;

beforeEach(() => {
  stored = {};
  intervals = [];
  globalThis.chrome = {
    storage: {
      local: {
        async get(keys) {
          const names = keys === null ? Object.keys(stored) : [keys].flat();
          return Object.fromEntries(names.filter((k) => k in stored).map((k) => [k, structuredClone(stored[k])]));
        },
        async set(values) {
          Object.assign(stored, structuredClone(values));
        },
      },
    },
    idle: { setDetectionInterval: (seconds) => intervals.push(seconds) },
  };
});

const T = (minutes) => Date.UTC(2026, 0, 5, 10, minutes);
const RUNNING = { running: true, entry: { id: "e1", start: new Date(T(0)).toISOString() } };

test("chrome.idle detects idle after 10 minutes by default, after the setting once saved", async () => {
  await applyIdleSetting();
  assert.deepEqual(intervals, [600]);
  await saveSettings({ idleMinutes: 25 });
  await settingsChanged({ settings: { newValue: stored.settings } }, "local");
  assert.deepEqual(intervals, [600, 1500]);
  await settingsChanged({ timer: { newValue: null } }, "local"); // not a setting: nothing to apply
  assert.deepEqual(intervals, [600, 1500]);
});

test("idle began the setting's minutes before chrome.idle reported it", async () => {
  stored.timer = RUNNING;
  stored.settings = { idleMinutes: 25 };
  await recordIdleState("idle", T(40));
  assert.deepEqual(stored.idle, { since: T(15), until: null });
  await recordIdleState("locked", T(50)); // still away: the start of idle stays
  assert.deepEqual(stored.idle, { since: T(15), until: null });
  await recordIdleState("active", T(55));
  assert.deepEqual(stored.idle, { since: T(15), until: T(55) });
});

test("idle with no timer running is not recorded", async () => {
  stored.timer = { running: false, entry: null };
  await recordIdleState("idle", T(40));
  assert.equal(stored.idle, undefined);
});
