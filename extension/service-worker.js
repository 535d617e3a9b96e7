// The extension's background: an index of small modules. Every listener is registered at the
// top level (so Chrome can wake the worker for it); nothing is kept in globals — the timer
// lives on the server and in chrome.storage, changes waiting for it in chrome.storage too.
import { applyIdleSetting, recordIdleState, settingsChanged } from "./lib/idle-watch.js";
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

// Idle while a timer runs: chrome.idle reports it after the person's setting (default 10
// minutes; set in the popup), applied at each wake-up and when it changes; the worker records
// when idle began and ended, and the next popup asks what to do with that time.
applyIdleSetting();
chrome.storage.onChanged.addListener(settingsChanged);
chrome.idle.onStateChanged.addListener((state) => recordIdleState(state));
