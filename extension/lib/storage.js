// Everything the extension remembers lives in chrome.storage.local (never in worker globals):
//   session: {serverUrl, token, user}   — who is signed in where
//   timer:   {running, entry, fetchedAt} — the server's timer as last read, and when (ms)
//   notice:  a message for the sign-in screen (e.g. "Your sign-in has expired…")
//   idle:    {since, until} (ms): when the machine went idle while a timer ran, until when
//   settings: the person's settings (lib/settings.js), kept through sign-out
//   queue:   changes waiting for the server, oldest first (lib/queue.js), and queueOwner: the
//            id of the user who made them (kept through an expired sign-in, for that user only)

import { settingsFrom } from "./settings.js";

export async function getSession() {
  const { session } = await chrome.storage.local.get("session");
  return session && session.token ? session : null;
}

export async function lastServerUrl() {
  const { session, lastServerUrl: url } = await chrome.storage.local.get(["session", "lastServerUrl"]);
  return session?.serverUrl || url || null;
}

export async function saveSession(session) {
  const { queueOwner } = await chrome.storage.local.get("queueOwner");
  const userId = session.user ? session.user.id : null;
  // Changes made by someone else before their sign-in expired are not this user's to send.
  const keepQueue = queueOwner === userId ? {} : { queue: [], queueOwner: userId };
  await chrome.storage.local.set({ session, lastServerUrl: session.serverUrl, notice: null, ...keepQueue });
}

// Forget the token (signed out or expired); `notice` is shown on the sign-in screen.
// The server's address is kept, so signing in again needs only the email and password.
// An expired sign-in keeps the changes waiting (sent once the same user signs in again); signing
// out (`dropQueue`) forgets them.
// The address and the notice are written before the token is removed: a popup closed between
// the two writes (a reload, a click elsewhere) leaves at worst a token the server refuses again,
// never a sign-in screen that has forgotten the server.
export async function clearSession(notice = null, { dropQueue = false } = {}) {
  const { session } = await chrome.storage.local.get("session");
  const keep = session?.serverUrl ? { lastServerUrl: session.serverUrl } : {};
  await chrome.storage.local.set({ notice, ...keep });
  await chrome.storage.local.remove(["session", "timer", ...(dropQueue ? ["queue", "queueOwner"] : [])]);
}

export async function takeNotice() {
  const { notice } = await chrome.storage.local.get("notice");
  if (notice) await chrome.storage.local.set({ notice: null });
  return notice || null;
}

export async function getTimer() {
  const { timer } = await chrome.storage.local.get("timer");
  return timer || null;
}

export async function saveTimer(timer) {
  await chrome.storage.local.set({ timer });
}

export async function getQueue() {
  const { queue } = await chrome.storage.local.get("queue");
  return Array.isArray(queue) ? queue : [];
}

export async function saveQueue(queue) {
  const session = await getSession();
  await chrome.storage.local.set({ queue, ...(session?.user ? { queueOwner: session.user.id } : {}) });
}

export async function getIdle() {
  const { idle } = await chrome.storage.local.get("idle");
  return idle || null;
}

export async function saveIdle(idle) {
  await chrome.storage.local.set({ idle });
}

// The person's settings, the account's default where they chose nothing.
export async function getSettings() {
  const { settings, accountIdleMinutes } = await chrome.storage.local.get(["settings", "accountIdleMinutes"]);
  return settingsFrom(settings, accountIdleMinutes);
}

// The account's idle minutes (an administrator's setting), the default of the person's own.
export async function saveAccountIdleMinutes(minutes) {
  await chrome.storage.local.set({ accountIdleMinutes: minutes });
}

export async function saveSettings(settings) {
  await chrome.storage.local.set({ settings: settingsFrom(settings) });
}

// The server chosen at sign-in's first step, offered again next time.
export async function rememberServerUrl(serverUrl) {
  await chrome.storage.local.set({ lastServerUrl: serverUrl });
}
