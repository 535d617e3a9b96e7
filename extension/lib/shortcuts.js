// Keyboard shortcuts handled by the service worker (opening the popup is Chrome's own
// `_execute_action` command).
import { showTimerOnBadge } from "./badge.js";
import { perform } from "./outbox.js";
import { getSession, getTimer } from "./storage.js";
import { refreshTimer } from "./timer-sync.js";

export const STOP_COMMAND = "stop-timer";

export async function stopFromShortcut() {
  const timer = await getTimer();
  if (!(await getSession()) || !timer || !timer.running) return;
  const result = await perform("stop");
  if (result.left.length > 0) await showTimerOnBadge(await getTimer(), result.left.length);
  else await refreshTimer();
}
