// The toolbar badge: the running timer's elapsed time, nothing when none runs; grey while
// changes wait for the server (offline), red otherwise.
import { elapsedSeconds, formatBadge } from "./format.js";
import { waitingText } from "./queue.js";

export const RUNNING_COLOR = "#b3261e";
export const WAITING_COLOR = "#5f6368";
// Shown when no timer runs but changes wait: the badge is never blank while the server has not
// got everything.
export const WAITING_MARK = "…";

// What the badge shows (no chrome.* here): {text, color, title}.
export function badgeView(timer, waiting = 0, nowMs = Date.now()) {
  const running = Boolean(timer && timer.running && timer.entry);
  const offline = waiting > 0 ? ` — ${waitingText(waiting)}` : "";
  if (!running) {
    return {
      text: waiting > 0 ? WAITING_MARK : "",
      color: WAITING_COLOR,
      title: `Timetrail${offline}`,
    };
  }
  const text = formatBadge(elapsedSeconds(timer.entry, timer.fetchedAt, nowMs));
  const name = timer.entry.task ? timer.entry.task.name : "no task";
  return {
    text,
    color: waiting > 0 ? WAITING_COLOR : RUNNING_COLOR,
    title: `Timetrail: tracking ${name} (${text})${offline}`,
  };
}

export async function showTimerOnBadge(timer, waiting = 0, nowMs = Date.now()) {
  const view = badgeView(timer, waiting, nowMs);
  await chrome.action.setBadgeBackgroundColor({ color: view.color });
  await chrome.action.setBadgeText({ text: view.text });
  await chrome.action.setTitle({ title: view.title });
}
