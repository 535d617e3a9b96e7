// Idle time while a timer runs (no chrome.* here). The service worker records when the machine
// went idle (chrome.idle reports it `idleMinutes` after the last input, so idle began that long
// before the report) and when it came back; the next popup asks what to do with that time.

export const DEFAULT_IDLE_MINUTES = 10;

// When idle began, for a report of "idle" at `reportedAtMs`.
export function idleSince(reportedAtMs, idleMinutes = DEFAULT_IDLE_MINUTES) {
  return reportedAtMs - idleMinutes * 60 * 1000;
}

// The idle record after chrome.idle reports `state` ("active", "idle" or "locked") at `nowMs`,
// detecting idle after `idleMinutes`: {since, until: null} when idle begins while a timer runs,
// {since, until} when the person is back, or undefined when the record stays as it is (idle with
// no timer running, idle again before the last idle time was asked about, active with no idle).
// "idle" comes `idleMinutes` after the last input; "locked" comes when the screen locks, however
// recent the last input (so the away time begins then: never minutes of work before it).
export function idleAfter(state, { timer, idle, nowMs, idleMinutes }) {
  if (state !== "active") {
    if (!timer || !timer.running || idle) return undefined;
    return { since: state === "locked" ? nowMs : idleSince(nowMs, idleMinutes), until: null };
  }
  if (idle && idle.until === null) return { ...idle, until: nowMs };
  return undefined;
}

// Whether to ask about `idle` ({since, until} in ms; until null while still idle) for `timer`:
// only while a timer runs that started before the idle time began. Returns {since, until} or null.
export function idleQuestion(timer, idle, nowMs = Date.now()) {
  if (!idle || !timer || !timer.running || !timer.entry) return null;
  const started = new Date(timer.entry.start).getTime();
  if (!(started < idle.since)) return null;
  return { since: idle.since, until: idle.until || nowMs };
}

// "You were away from 10:05 to 10:40 (35 min) while tracking Design."
export function idleText(question, taskName, clock) {
  const minutes = Math.max(1, Math.round((question.until - question.since) / 60000));
  return `You were away from ${clock(question.since)} to ${clock(question.until)} (${minutes} min) while tracking ${taskName || "no task"}.`;
}
