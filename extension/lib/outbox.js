// The queue of changes (lib/queue.js) kept in chrome.storage, and sent from one place at a
// time: the popup and the service worker take the same Web Lock, so they never send the same
// queue at once (the idempotency keys would make that harmless, but not quiet).
import { addChange, applyLocally, makeChange, sendQueue } from "./queue.js";
import { getQueue, getSession, getTimer, saveQueue, saveTimer } from "./storage.js";
import { apiFor } from "./session-api.js";

const LOCK = "timetrail-outbox";

const nothing = (left) => ({ sent: [], failed: [], left, error: null });

async function flushHeld() {
  const queue = await getQueue();
  const session = await getSession();
  if (!session || queue.length === 0) return nothing(queue);
  const result = await sendQueue(queue, apiFor(session));
  await saveQueue(result.left);
  return result;
}

// Send what waits, in order. Returns sendQueue's {sent, failed, left, error}.
export function flush() {
  return navigator.locks.request(LOCK, flushHeld);
}

// Record a change the person just made (kind and fields: see queue.makeChange), show it in the
// stored timer at once, and send everything waiting. Returns {change, sent, failed, left, error}:
// the change is in `left` when the server could not be reached (it waits, and is sent later).
export function perform(kind, fields = {}) {
  return navigator.locks.request(LOCK, async () => {
    const change = makeChange(kind, fields);
    await saveQueue(addChange(await getQueue(), change));
    await saveTimer(applyLocally(await getTimer(), change));
    return { change, ...(await flushHeld()) };
  });
}
