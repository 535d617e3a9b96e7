import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError } from "../lib/api.js";
import { addChange, applyLocally, makeChange, sendQueue, waitingText } from "../lib/queue.js";

let n = 0;
const key = () => `k${(n += 1)}`;
const at = (minutes) => Date.UTC(2026, 0, 5, 9, minutes);
const change = (kind, fields, minutes = 0) => makeChange(kind, fields, { now: at(minutes), makeKey: key });
const TASK = { id: "t1", name: "Design", path: ["Web"] };

// A fake API: records each call with its key; `down` makes every call go unanswered.
function fakeApi({ down = false, refuse = {} } = {}) {
  const calls = [];
  const unreachable = () => new ApiError("unreachable", "Cannot reach the server.");
  const handle = (name, args, answer) => {
    calls.push({ name, ...args });
    if (api.down) throw unreachable();
    if (refuse[name]) throw new ApiError(refuse[name], "refused", 409);
    return answer;
  };
  const api = {
    down,
    calls,
    start: async (taskId, o) => handle("start", { taskId, ...o }, { entry: { id: `e-${o.key}` } }),
    stop: async (o) => handle("stop", o, { entry: { id: "e" } }),
    discard: async (o) => handle("discard", o, null),
    saveNote: async (entryId, note, o) => handle("note", { entryId, note, ...o }, { id: entryId }),
  };
  return api;
}

test("changes replay in order, each with the key made when it happened, and the stop's time", async () => {
  let queue = [];
  const start = change("start", { task: TASK }, 0);
  const stop = change("stop", {}, 42);
  queue = addChange(addChange(queue, start), stop);
  const api = fakeApi();
  const result = await sendQueue(queue, api);
  assert.deepEqual(api.calls.map((c) => [c.name, c.key, c.at]), [
    ["start", start.key, at(0)],
    ["stop", stop.key, at(42)],
  ]);
  assert.equal(api.calls[0].taskId, "t1");
  assert.deepEqual(result.left, []);
  assert.equal(result.sent.length, 2);
});

test("an unanswered change stays, with the ones after it, and is sent again with the same key", async () => {
  const queue = [change("start", { task: TASK }), change("stop", {}, 5)];
  const api = fakeApi({ down: true });
  const first = await sendQueue(queue, api);
  assert.equal(first.left.length, 2);
  assert.equal(first.error.kind, "unreachable");
  api.down = false;
  const second = await sendQueue(first.left, api);
  assert.deepEqual(second.left, []);
  const starts = api.calls.filter((c) => c.name === "start");
  assert.equal(starts.length, 2);
  assert.equal(starts[0].key, starts[1].key, "a retry carries the same idempotency key");
});

test("a refused change is dropped and the rest still go", async () => {
  const queue = [change("stop", {}), change("start", { task: TASK }, 1)];
  const api = fakeApi({ refuse: { stop: "no_running_timer" } });
  const result = await sendQueue(queue, api);
  assert.equal(result.failed.length, 1);
  assert.equal(result.failed[0].error.kind, "no_running_timer");
  assert.equal(result.sent.length, 1);
  assert.deepEqual(result.left, []);
});

test("a note on a start still waiting rides with the start; a newer note replaces an older one", () => {
  const start = change("start", { task: TASK });
  let queue = addChange([], start);
  queue = addChange(queue, change("note", { startKey: start.key, note: "drafts" }));
  assert.equal(queue.length, 1);
  assert.equal(queue[0].note, "drafts");
  let online = addChange([], change("note", { entryId: "e1", note: "a" }));
  online = addChange(online, change("note", { entryId: "e1", note: "ab" }));
  assert.equal(online.length, 1);
  assert.equal(online[0].note, "ab");
});

test("discarding a start that never reached the server sends nothing", () => {
  const start = change("start", { task: TASK });
  const queue = addChange(addChange([], start), change("discard", {}));
  assert.deepEqual(queue, []);
  // but a discard after an earlier stop is a change of its own
  const other = addChange(addChange(addChange([], start), change("stop", {})), change("discard", {}));
  assert.equal(other.length, 3);
});

test("a note typed on an entry whose start waited is sent to that entry once it exists", async () => {
  const start = change("start", { task: TASK });
  const queue = [start, change("stop", {}, 3), change("note", { startKey: start.key, note: "late" }, 4)];
  const api = fakeApi();
  await sendQueue(queue, api);
  const note = api.calls.find((c) => c.name === "note");
  assert.equal(note.entryId, `e-${start.key}`);
});

test("the stored timer follows what the person did while changes wait", () => {
  const start = change("start", { task: TASK }, 0);
  const running = applyLocally(null, start, at(2));
  assert.equal(running.running, true);
  assert.equal(running.entry.task.name, "Design");
  assert.equal(running.entry.start, "2026-01-05T09:00:00Z");
  assert.equal(running.entry.duration, 120);
  const noted = applyLocally(running, change("note", { startKey: start.key, note: "x" }), at(3));
  assert.equal(noted.entry.note, "x");
  assert.equal(applyLocally(noted, change("stop", {}, 4), at(4)).running, false);
});

test("the waiting line counts the changes", () => {
  assert.equal(waitingText(0), "");
  assert.equal(waitingText(1), "offline — 1 change waiting");
  assert.equal(waitingText(3), "offline — 3 changes waiting");
});
