// Keeps the stored timer and the badge in step with the server. Used by the service worker (from
// its alarms) and by the popup (when it opens, every few seconds while open, and after actions).
// Changes waiting for the server are sent first; while some wait, the stored timer is what the
// person did (lib/queue.js applyLocally), not the server's older state.
import { ApiError, EXPIRED_MESSAGE } from "./api.js";
import { showTimerOnBadge } from "./badge.js";
import { flush } from "./outbox.js";
import { apiFor } from "./session-api.js";
import { clearSession, getQueue, getSession, getTimer, saveTimer } from "./storage.js";

export { apiFor };

export const REFRESH_ALARM = "timer-refresh";
// While a timer runs the worker checks the server every 30 seconds (the shortest period Chrome
// allows an alarm) and once more half-way (`MIDWAY_MS`, from the alarm's own wake-up), so a
// change made elsewhere shows on the badge within 15 seconds; with no timer, every minute.
export const RUNNING_PERIOD_MINUTES = 0.5;
export const IDLE_PERIOD_MINUTES = 1;
export const MIDWAY_MS = 15_000;

export async function ensureRefreshAlarm(running = false) {
  const period = running ? RUNNING_PERIOD_MINUTES : IDLE_PERIOD_MINUTES;
  const existing = await chrome.alarms.get(REFRESH_ALARM);
  if (!existing || existing.periodInMinutes !== period) {
    await chrome.alarms.create(REFRESH_ALARM, { periodInMinutes: period });
  }
}

// Store what the server said about the timer and show it on the badge.
export async function applyTimer(answer, waiting = 0) {
  const timer = answer && answer.running
    ? { running: true, entry: answer.entry, fetchedAt: Date.now() }
    : { running: false, entry: null, fetchedAt: Date.now() };
  await saveTimer(timer);
  await showTimerOnBadge(timer, waiting);
  await ensureRefreshAlarm(timer.running);
  return timer;
}

// Sign-in expired: forget the token, clear the badge, leave a message for the sign-in screen.
export async function signedOutBecauseExpired() {
  await clearSession(EXPIRED_MESSAGE);
  await showTimerOnBadge(null);
}

// Send what waits, then re-read the timer from the server. When the server cannot be reached,
// the badge keeps counting from the last known state; the error is returned to the caller (the
// popup shows it). Returns {timer, error, waiting, failed}.
export async function refreshTimer() {
  const session = await getSession();
  if (!session) {
    await showTimerOnBadge(null);
    return { timer: null, error: null, waiting: 0, failed: [] };
  }
  let error = null;
  let failed = [];
  let waiting = (await getQueue()).length;
  try {
    if (waiting > 0) {
      const sent = await flush();
      failed = sent.failed;
      waiting = sent.left.length;
      if (sent.error) throw sent.error;
    }
    return { timer: await applyTimer(await apiFor(session).timer(), waiting), error: null, waiting, failed };
  } catch (caught) {
    error = caught;
  }
  if (error instanceof ApiError && error.kind === "expired") {
    await signedOutBecauseExpired();
    return { timer: null, error, waiting, failed };
  }
  const timer = await getTimer();
  await showTimerOnBadge(timer, waiting);
  return { timer, error, waiting, failed };
}
