import assert from "node:assert/strict";
import { test } from "node:test";

import { idleAfter, idleQuestion, idleSince, idleText } from "../lib/idle.js";

const T = (minutes) => Date.UTC(2026, 0, 5, 10, minutes);
const running = (startMinutes) => ({ running: true, entry: { start: new Date(T(startMinutes)).toISOString() } });

test("idle began the detection interval before it was reported", () => {
  assert.equal(idleSince(T(15), 10), T(5));
});

test("ask only about idle time inside a running timer", () => {
  const idle = { since: T(5), until: T(40) };
  assert.deepEqual(idleQuestion(running(0), idle), { since: T(5), until: T(40) });
  assert.equal(idleQuestion(running(10), idle), null, "the timer started after idle began");
  assert.equal(idleQuestion({ running: false }, idle), null);
  assert.equal(idleQuestion(running(0), null), null);
  assert.deepEqual(idleQuestion(running(0), { since: T(5), until: null }, T(20)), { since: T(5), until: T(20) });
});

test("the question names the span and the task", () => {
  const clock = (ms) => new Date(ms).toISOString().slice(11, 16);
  assert.equal(
    idleText({ since: T(5), until: T(40) }, "Design", clock),
    "You were away from 10:05 to 10:40 (35 min) while tracking Design.",
  );
});

test("an idle report while a timer runs starts an idle record; coming back closes it", () => {
  const timer = running(0);
  const opened = idleAfter("idle", { timer, idle: null, nowMs: T(30), idleMinutes: 20 });
  assert.deepEqual(opened, { since: T(10), until: null });
  assert.equal(idleAfter("idle", { timer, idle: opened, nowMs: T(31), idleMinutes: 20 }), undefined);
  assert.deepEqual(idleAfter("active", { timer, idle: opened, nowMs: T(45), idleMinutes: 20 }), { since: T(10), until: T(45) });
  assert.equal(idleAfter("active", { timer, idle: null, nowMs: T(45), idleMinutes: 20 }), undefined);
  assert.equal(idleAfter("idle", { timer: { running: false }, idle: null, nowMs: T(30), idleMinutes: 20 }), undefined);
});

test("a locked screen is away time from the moment it locked, not the idle minutes before", () => {
  const locked = idleAfter("locked", { timer: running(0), idle: null, nowMs: T(30), idleMinutes: 20 });
  assert.deepEqual(locked, { since: T(30), until: null });
});
