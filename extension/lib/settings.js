// The person's settings (no chrome.* here): what is kept, its defaults, and what a form may set.
//   idleMinutes: after how many minutes without input, while a timer runs, the next popup asks
//                about the idle time (chrome.idle's detection interval).
import { DEFAULT_IDLE_MINUTES } from "./idle.js";

// chrome.idle detects idle after 15 s at the least; whole minutes up to a working day's half.
export const IDLE_MINUTES_MIN = 1;
export const IDLE_MINUTES_MAX = 240;

export const DEFAULT_SETTINGS = Object.freeze({ idleMinutes: DEFAULT_IDLE_MINUTES });

function validIdleMinutes(value) {
  return Number.isInteger(value) && value >= IDLE_MINUTES_MIN && value <= IDLE_MINUTES_MAX;
}

// The settings to use, from what storage holds (nothing, or an older or damaged record): each
// field kept when valid; otherwise the account's (GET /api/v1/me's `account.idle_minutes`, read
// at sign-in) when valid, else the built-in default.
export function settingsFrom(stored, accountIdleMinutes) {
  const given = stored && typeof stored === "object" ? stored : {};
  let idleMinutes = DEFAULT_SETTINGS.idleMinutes;
  if (validIdleMinutes(given.idleMinutes)) idleMinutes = given.idleMinutes;
  else if (validIdleMinutes(accountIdleMinutes)) idleMinutes = accountIdleMinutes;
  return { idleMinutes };
}

// What the settings form typed as idle minutes: {value} or {error} (a sentence for the person).
export function parseIdleMinutes(text) {
  const trimmed = String(text ?? "").trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!validIdleMinutes(value)) {
    return { error: `Enter whole minutes from ${IDLE_MINUTES_MIN} to ${IDLE_MINUTES_MAX}.` };
  }
  return { value };
}

// chrome.idle.setDetectionInterval's argument for these settings.
export function idleDetectionSeconds(settings) {
  return settingsFrom(settings).idleMinutes * 60;
}
