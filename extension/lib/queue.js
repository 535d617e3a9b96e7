// Changes waiting for the server: what the person did (start, stop, note, discard, and the edit
// or deletion of an entry) is kept, in order, with the moment it happened and an idempotency key made when it happened, and sent
// when the server answers. The key makes a change sent twice (an answer lost on the way back, a
// popup and the service worker sending at once) happen once on the server. No chrome.* here:
// the queue is a plain array the caller stores (lib/outbox.js), and `api` is a parameter.
import { ApiError, isUnanswered, isoTime } from "./api.js";

export const KINDS = ["start", "stop", "discard", "note", "update", "delete"];

function randomKey() {
  return crypto.randomUUID();
}

// A change made now: {key, kind, at, ...fields}. `fields` by kind:
//   start:   {task}            (a task object, or null for no task), optional {note}
//   stop, discard: {}
//   note:    {entryId, note}   or {startKey, note} for an entry whose start is still waiting
//   update:  {entryId, edits}  (edits: what PATCH /entries/{id} takes: start, end, note)
//   delete:  {entryId}
export function makeChange(kind, fields = {}, { now = Date.now(), makeKey = randomKey } = {}) {
  if (!KINDS.includes(kind)) throw new Error(`unknown change ${kind}`);
  return { key: makeKey(), kind, at: now, ...fields }; // (fields.at: a moment in the past)
}

// The queue with `change` added. Changes that a later one makes moot are folded into it, so a
// person offline for a day leaves a short queue: a note on a start still waiting rides with the
// start; a newer note on the same entry replaces the older one; a discard of a start still
// waiting removes that start (and its notes) instead of sending both; deleting an entry drops
// the edits and notes still waiting for it. Edits of an entry are kept one by one, in order
// (each is checked by the server as the person made it).
export function addChange(queue, change) {
  if (change.kind === "delete") {
    const moot = (c) => (c.kind === "note" || c.kind === "update") && c.entryId === change.entryId;
    return [...queue.filter((c) => !moot(c)), change];
  }
  const waitingStart = lastWaitingStart(queue);
  if (change.kind === "note") {
    if (change.startKey && waitingStart && waitingStart.key === change.startKey) {
      return queue.map((c) => (c === waitingStart ? { ...c, note: change.note } : c));
    }
    const same = queue.findIndex(
      (c) => c.kind === "note" && sameEntry(c, change),
    );
    if (same >= 0) return queue.map((c, i) => (i === same ? { ...c, note: change.note } : c));
  }
  if (change.kind === "discard" && waitingStart && !stoppedAfter(queue, waitingStart)) {
    return queue.filter((c) => c !== waitingStart && !(c.kind === "note" && c.startKey === waitingStart.key));
  }
  return [...queue, change];
}

function sameEntry(a, b) {
  return (a.entryId && a.entryId === b.entryId) || (a.startKey && a.startKey === b.startKey);
}

function lastWaitingStart(queue) {
  for (let i = queue.length - 1; i >= 0; i -= 1) if (queue[i].kind === "start") return queue[i];
  return null;
}

function stoppedAfter(queue, start) {
  return queue.slice(queue.indexOf(start) + 1).some((c) => c.kind === "stop" || c.kind === "discard");
}

// One change as an API call, with its key.
export function sendChange(api, change) {
  switch (change.kind) {
    case "start":
      return api.start(change.task ? change.task.id : null, { key: change.key, at: change.at, note: change.note });
    case "stop":
      return api.stop({ key: change.key, at: change.at });
    case "discard":
      return api.discard({ key: change.key });
    case "note":
      return api.saveNote(change.entryId, change.note, { key: change.key });
    case "update":
      return api.updateEntry(change.entryId, change.edits, { key: change.key });
    case "delete":
      return api.deleteEntry(change.entryId, { key: change.key });
    default:
      throw new Error(`unknown change ${change.kind}`);
  }
}

// Send the queue in order, each change once. Stops at the first change that gets no answer
// (or is still being handled under its key): it and the ones after it stay `left`, to be sent
// again, with the same keys, later. A change the server refuses (a stop with no timer running,
// a task archived meanwhile) is `failed` and dropped: sending it again would get the same answer.
// A sign-in that expired stops the run, leaving everything (it is sent once signed in again).
// Returns {sent: [{change, answer}], failed: [{change, error}], left: [...], error}.
export async function sendQueue(queue, api) {
  const sent = [];
  const failed = [];
  let left = [...queue];
  while (left.length > 0) {
    const change = left[0];
    if (change.kind === "note" && !change.entryId) {
      left = left.slice(1); // its start failed: nothing to write the note on
      continue;
    }
    let answer;
    try {
      answer = await sendChange(api, change);
    } catch (error) {
      if (isUnanswered(error) || error.kind === "expired" || error.kind === "idempotency_key_in_use" || !(error instanceof ApiError)) {
        return { sent, failed, left, error };
      }
      failed.push({ change, error });
      left = left.slice(1);
      continue;
    }
    sent.push({ change, answer });
    left = left.slice(1);
    if (change.kind === "start" && answer && answer.entry) {
      // notes typed on this entry while its start waited now know the entry
      left = left.map((c) => (c.kind === "note" && c.startKey === change.key ? { ...c, entryId: answer.entry.id, startKey: undefined } : c));
    }
  }
  return { sent, failed, left, error: null };
}

// The timer as the person expects it after a change that is still waiting (the stored timer,
// shown in the popup and on the badge, follows what they did, not what the server last said).
export function applyLocally(timer, change, nowMs = Date.now()) {
  switch (change.kind) {
    case "start":
      return {
        running: true,
        fetchedAt: nowMs,
        entry: {
          id: null,
          startKey: change.key,
          task_id: change.task ? change.task.id : null,
          task: change.task ? { id: change.task.id, name: change.task.name, path: change.task.path || [] } : null,
          start: isoTime(change.at),
          end: null,
          duration: Math.max(0, Math.floor((nowMs - change.at) / 1000)),
          note: change.note || "",
          source: "extension",
        },
      };
    case "stop":
    case "discard":
      return { running: false, entry: null, fetchedAt: nowMs };
    case "note":
      if (timer && timer.running && timer.entry && sameEntry({ entryId: timer.entry.id, startKey: timer.entry.startKey }, change)) {
        return { ...timer, entry: { ...timer.entry, note: change.note } };
      }
      return timer;
    case "update":
    case "delete": {
      const running = timer && timer.running && timer.entry && timer.entry.id && timer.entry.id === change.entryId;
      if (!running) return timer;
      if (change.kind === "delete" || change.edits.end) return { running: false, entry: null, fetchedAt: nowMs };
      return { ...timer, entry: editedEntry(timer.entry, change.edits) };
    }
    default:
      return timer;
  }
}

// An entry with `edits` made to it, its duration following a moved start or end (a running
// entry's duration is what it had run when read: moving its start earlier adds the difference).
export function editedEntry(entry, edits) {
  const edited = { ...entry, ...edits };
  const seconds = (iso) => new Date(iso).getTime() / 1000;
  if (edited.end) {
    edited.duration = Math.max(0, Math.round(seconds(edited.end) - seconds(edited.start)));
  } else if (edits.start) {
    edited.duration = Math.max(0, Math.round((Number(entry.duration) || 0) + seconds(entry.start) - seconds(edits.start)));
  }
  return edited;
}

// A list of entries as the server last gave it (and its total, in seconds), with the edits,
// notes and deletions still waiting in `queue` applied: what the person expects to see.
export function entriesWithWaiting({ items, total }, queue) {
  let entries = items;
  let sum = total;
  for (const change of queue) {
    const at = entries.findIndex((e) => e.id && e.id === change.entryId);
    if (at < 0) continue;
    const before = entries[at];
    let after = null;
    if (change.kind === "update") after = editedEntry(before, change.edits);
    else if (change.kind === "note") after = { ...before, note: change.note };
    else if (change.kind !== "delete") continue;
    sum += (after ? Number(after.duration) || 0 : 0) - (Number(before.duration) || 0);
    entries = after ? entries.map((e, i) => (i === at ? after : e)) : entries.filter((_, i) => i !== at);
  }
  return { items: entries, total: Math.max(0, sum) };
}

// "offline — 3 changes waiting"
export function waitingText(count) {
  if (!count) return "";
  return `offline — ${count} ${count === 1 ? "change" : "changes"} waiting`;
}
