import assert from "node:assert/strict";
import { test } from "node:test";

import { RUNNING_COLOR, WAITING_COLOR, WAITING_MARK, badgeView } from "../lib/badge.js";
import { formatBadge } from "../lib/format.js";

test("the badge fits four characters: 9:59, then whole hours", () => {
  assert.equal(formatBadge(0), "0:00");
  assert.equal(formatBadge(9 * 3600 + 59 * 60 + 59), "9:59");
  assert.equal(formatBadge(10 * 3600 + 30 * 60), "10h");
  assert.equal(formatBadge(23 * 3600 + 59 * 60), "23h");
  assert.equal(formatBadge(99 * 3600), "99h");
  assert.equal(formatBadge(500 * 3600), "99h");
  for (const s of [0, 3599, 36000, 1e9]) assert.ok(formatBadge(s).length <= 4, String(s));
});

const timer = (duration) => ({ running: true, fetchedAt: 1000, entry: { duration, task: { name: "Design" } } });

test("a running timer is red; changes waiting turn the badge grey", () => {
  const online = badgeView(timer(600), 0, 1000);
  assert.deepEqual([online.text, online.color], ["0:10", RUNNING_COLOR]);
  const offline = badgeView(timer(600), 2, 1000);
  assert.deepEqual([offline.text, offline.color], ["0:10", WAITING_COLOR]);
  assert.match(offline.title, /offline — 2 changes waiting/);
});

test("no timer: blank, unless changes wait", () => {
  assert.equal(badgeView(null, 0).text, "");
  assert.equal(badgeView({ running: false }, 1).text, WAITING_MARK);
});
