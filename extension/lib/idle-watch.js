// The service worker's side of idle time: chrome.idle detects it after the person's setting
// (lib/settings.js; else the account's, default 10 minutes), applied at every wake-up and whenever the setting
// changes; each state change is recorded for the next popup to ask about (lib/idle.js).
import { idleAfter } from "./idle.js";
import { idleDetectionSeconds } from "./settings.js";
import { getIdle, getSettings, getTimer, saveIdle } from "./storage.js";

export async function applyIdleSetting() {
  chrome.idle.setDetectionInterval(idleDetectionSeconds(await getSettings()));
}

export async function recordIdleState(state, nowMs = Date.now()) {
  const { idleMinutes } = await getSettings();
  const next = idleAfter(state, { timer: await getTimer(), idle: await getIdle(), nowMs, idleMinutes });
  if (next !== undefined) await saveIdle(next);
}

// A chrome.storage.onChanged listener: a changed setting (the person's or the account's) is
// applied at once.
export async function settingsChanged(changes, area) {
  if (area === "local" && (changes.settings || changes.accountIdleMinutes)) await applyIdleSetting();
}
