// The extension's background: an index of small modules. Every listener is registered at the
// top level (so Chrome can wake the worker for it); nothing is kept in globals — the timer
// lives on the server and in chrome.storage, changes waiting for it in chrome.storage too.
import { DEFAULT_IDLE_MINUTES, idleSince } from "./lib/idle.js";
import { getIdle, getTimer, saveIdle } from "./lib/storage.js";
import { STOP_COMMAND, stopFromShortcut } from "./lib/shortcuts.js";
import { MIDWAY_MS, REFRESH_ALARM, ensureRefreshAlarm, refreshTimer } from "./lib/timer-sync.js";

chrome.runtime.onInstalled.addListener(() => {
  ensureRefreshAlarm();
  refreshTimer();
});

chrome.runtime.onStartup.addListener(() => {
  ensureRefreshAlarm();
  refreshTimer();
});

// Every 30 seconds while a timer runs (every minute otherwise): send the changes waiting for
// the server, re-read its timer (so one started or stopped elsewhere shows) and move the badge
// on. While a timer runs, once more half-way to the next alarm, within this same wake-up (an
// alarm cannot fire more often): the badge follows a change made elsewhere within 15 seconds.
chrome.alarms.onAlarm.addListener(async (alarm) => {
  if (alarm.name !== REFRESH_ALARM) return;
  const { timer } = await refreshTimer();
  if (timer && timer.running) setTimeout(refreshTimer, MIDWAY_MS);
});

// The "Stop the running timer" shortcut (Alt+Shift+S unless changed in chrome://extensions/shortcuts):
// a stop like the popup's, kept and sent later when the server cannot be reached.
chrome.commands.onCommand.addListener(async (command) => {
  if (command === STOP_COMMAND) await stopFromShortcut();
});

// Idle while a timer runs: remember when it began (chrome.idle reports it DEFAULT_IDLE_MINUTES
// after the last input) and when it ended; the next popup asks what to do with that time.
chrome.idle.setDetectionInterval(DEFAULT_IDLE_MINUTES * 60);
chrome.idle.onStateChanged.addListener(async (state) => {
  const timer = await getTimer();
  const idle = await getIdle();
  if (state !== "active") {
    if (timer && timer.running && !idle) await saveIdle({ since: idleSince(Date.now()), until: null });
  } else if (idle && idle.until === null) {
    await saveIdle({ ...idle, until: Date.now() });
  }
});
