import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError } from "../lib/api.js";
import { addChange, applyLocally, entriesWithWaiting, makeChange, sendQueue, waitingText } from "../lib/queue.js";

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
    updateEntry: async (entryId, edits, o) => handle("update", { entryId, edits, ...o }, { id: entryId, ...edits }),
    deleteEntry: async (entryId, o) => handle("delete", { entryId, ...o }, null),
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

test("edits and deletions made offline replay in order, each once, with the key made when it happened", async () => {
  const edit = change("update", { entryId: "e1", edits: { start: "2026-01-05T08:40:00Z" } }, 1);
  const gone = change("delete", { entryId: "e2" }, 2);
  const stop = change("stop", {}, 3);
  const queue = [edit, gone, stop].reduce(addChange, []);
  const api = fakeApi({ down: true });
  const offline = await sendQueue(queue, api);
  assert.equal(offline.left.length, 3);
  api.down = false;
  const back = await sendQueue(offline.left, api);
  assert.deepEqual(back.left, []);
  const answered = api.calls.slice(1); // the first call went unanswered
  assert.deepEqual(answered.map((c) => [c.name, c.key, c.entryId]), [
    ["update", edit.key, "e1"],
    ["delete", gone.key, "e2"],
    ["stop", stop.key, undefined],
  ]);
  assert.deepEqual(answered[0].edits, { start: "2026-01-05T08:40:00Z" });
  assert.equal(api.calls[0].key, edit.key, "the retry of the edit carries the same key");
});

test("an edit the server refuses is dropped and said; the deletion after it still goes", async () => {
  const queue = [change("update", { entryId: "e1", edits: { end: "2026-01-05T08:00:00Z" } }), change("delete", { entryId: "e2" })];
  const api = fakeApi({ refuse: { update: "invalid_range" } });
  const result = await sendQueue(queue, api);
  assert.deepEqual(result.failed.map((f) => [f.change.kind, f.error.kind]), [["update", "invalid_range"]]);
  assert.deepEqual(result.sent.map((s) => s.change.kind), ["delete"]);
  assert.deepEqual(result.left, []);
});

test("deleting an entry drops the edits and notes still waiting for it", () => {
  let queue = [];
  queue = addChange(queue, change("update", { entryId: "e1", edits: { note: "a" } }));
  queue = addChange(queue, change("note", { entryId: "e1", note: "b" }));
  queue = addChange(queue, change("update", { entryId: "e2", edits: { note: "c" } }));
  queue = addChange(queue, change("delete", { entryId: "e1" }));
  assert.deepEqual(queue.map((c) => [c.kind, c.entryId]), [["update", "e2"], ["delete", "e1"]]);
});

test("an edit of the running entry's start moves its elapsed time while it waits", () => {
  const timer = { running: true, fetchedAt: at(30), entry: { id: "e1", start: "2026-01-05T09:10:00Z", duration: 1200, note: "" } };
  const earlier = applyLocally(timer, change("update", { entryId: "e1", edits: { start: "2026-01-05T09:00:00Z" } }), at(30));
  assert.equal(earlier.entry.start, "2026-01-05T09:00:00Z");
  assert.equal(earlier.entry.duration, 1800);
  assert.equal(applyLocally(timer, change("update", { entryId: "e9", edits: { start: "2026-01-05T09:00:00Z" } })), timer);
  assert.equal(applyLocally(timer, change("delete", { entryId: "e1" }), at(31)).running, false);
});

test("today's list shows the edits and deletions still waiting, and its total follows", () => {
  const items = [
    { id: "e1", start: "2026-01-05T09:00:00Z", end: "2026-01-05T09:30:00Z", duration: 1800, note: "" },
    { id: "e2", start: "2026-01-05T08:00:00Z", end: "2026-01-05T08:10:00Z", duration: 600, note: "" },
  ];
  const queue = [
    change("update", { entryId: "e1", edits: { start: "2026-01-05T08:45:00Z", end: "2026-01-05T09:30:00Z" } }),
    change("note", { entryId: "e1", note: "call" }),
    change("delete", { entryId: "e2" }),
  ];
  const shown = entriesWithWaiting({ items, total: 2400 }, queue);
  assert.deepEqual(shown.items.map((e) => [e.id, e.start, e.duration, e.note]), [["e1", "2026-01-05T08:45:00Z", 2700, "call"]]);
  assert.equal(shown.total, 2700);
  assert.deepEqual(entriesWithWaiting({ items, total: 2400 }, []), { items, total: 2400 });
});
