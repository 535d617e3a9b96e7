// The toolbar badge: the running timer's elapsed time (h:mm), nothing when none runs.
import { elapsedSeconds, formatHM } from "./format.js";

export async function showTimerOnBadge(timer, nowMs = Date.now()) {
  if (timer && timer.running && timer.entry) {
    const text = formatHM(elapsedSeconds(timer.entry, timer.fetchedAt, nowMs));
    await chrome.action.setBadgeBackgroundColor({ color: "#b3261e" });
    await chrome.action.setBadgeText({ text });
    const name = timer.entry.task ? timer.entry.task.name : "no task";
    await chrome.action.setTitle({ title: `Timetrail: tracking ${name} (${text})` });
  } else {
    await chrome.action.setBadgeText({ text: "" });
    await chrome.action.setTitle({ title: "Timetrail" });
  }
}
