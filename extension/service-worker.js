// The extension's background: an index of small modules. Every listener is registered at the
// top level (so Chrome can wake the worker for it); nothing is kept in globals — the timer
// lives on the server and in chrome.storage.
import { REFRESH_ALARM, ensureRefreshAlarm, refreshTimer } from "./lib/timer-sync.js";

chrome.runtime.onInstalled.addListener(() => {
  ensureRefreshAlarm();
  refreshTimer();
});

chrome.runtime.onStartup.addListener(() => {
  ensureRefreshAlarm();
  refreshTimer();
});

// At least once a minute: re-read the server's timer (so one started or stopped elsewhere shows)
// and move the badge on.
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === REFRESH_ALARM) refreshTimer();
});
