// Everything the extension remembers lives in chrome.storage.local (never in worker globals):
//   session: {serverUrl, token, user}   — who is signed in where
//   timer:   {running, entry, fetchedAt} — the server's timer as last read, and when (ms)
//   notice:  a message for the sign-in screen (e.g. "Your sign-in has expired…")

export async function getSession() {
  const { session } = await chrome.storage.local.get("session");
  return session && session.token ? session : null;
}

export async function lastServerUrl() {
  const { session, lastServerUrl: url } = await chrome.storage.local.get(["session", "lastServerUrl"]);
  return session?.serverUrl || url || null;
}

export async function saveSession(session) {
  await chrome.storage.local.set({ session, lastServerUrl: session.serverUrl, notice: null });
}

// Forget the token (signed out or expired); `notice` is shown on the sign-in screen.
// The server's address is kept, so signing in again needs only the email and password.
export async function clearSession(notice = null) {
  const { session } = await chrome.storage.local.get("session");
  await chrome.storage.local.remove(["session", "timer"]);
  const keep = session?.serverUrl ? { lastServerUrl: session.serverUrl } : {};
  await chrome.storage.local.set({ notice, ...keep });
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
