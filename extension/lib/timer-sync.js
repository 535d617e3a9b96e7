// Keeps the stored timer and the badge in step with the server. Used by the service worker
// (every minute, from an alarm) and by the popup (when it opens, starts or stops).
import { ApiError, EXPIRED_MESSAGE, createApi } from "./api.js";
import { showTimerOnBadge } from "./badge.js";
import { clearSession, getSession, getTimer, saveTimer } from "./storage.js";

export const REFRESH_ALARM = "timer-refresh";

export async function ensureRefreshAlarm() {
  const existing = await chrome.alarms.get(REFRESH_ALARM);
  if (!existing) await chrome.alarms.create(REFRESH_ALARM, { periodInMinutes: 1 });
}

export function apiFor(session) {
  return createApi({ serverUrl: session.serverUrl, token: session.token, fetch: (...a) => fetch(...a) });
}

// Store what the server said about the timer and show it on the badge.
export async function applyTimer(answer) {
  const timer = answer && answer.running
    ? { running: true, entry: answer.entry, fetchedAt: Date.now() }
    : { running: false, entry: null, fetchedAt: Date.now() };
  await saveTimer(timer);
  await showTimerOnBadge(timer);
  return timer;
}

// Sign-in expired: forget the token, clear the badge, leave a message for the sign-in screen.
export async function signedOutBecauseExpired() {
  await clearSession(EXPIRED_MESSAGE);
  await showTimerOnBadge(null);
}

// Re-read the timer from the server. When the server cannot be reached, the badge keeps
// counting from the last answer; the error is returned to the caller (the popup shows it).
export async function refreshTimer() {
  const session = await getSession();
  if (!session) {
    await showTimerOnBadge(null);
    return { timer: null, error: null };
  }
  try {
    return { timer: await applyTimer(await apiFor(session).timer()), error: null };
  } catch (error) {
    if (error instanceof ApiError && error.kind === "expired") {
      await signedOutBecauseExpired();
      return { timer: null, error };
    }
    const timer = await getTimer();
    await showTimerOnBadge(timer);
    return { timer, error };
  }
}
