// The Timetrail HTTP API as the extension uses it, and its failures as messages for people.
// No chrome.* here: `fetch` is a parameter, so node --test drives it with a fake.

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";
// How long any request may take before it counts as unanswered.
export const TIMEOUT_MS = 10_000;

// What went wrong, in the terms the popup reacts to:
//   unreachable  — no HTTP answer at all (server down, wrong address, offline)
//   timeout      — no answer within the timeout (a server that accepts but never answers)
//   cancelled    — the person cancelled the request (sign-in's Cancel)
//   expired      — 401 on a signed-in call: the token is no longer valid, sign in again
//   invalid_credentials, forbidden, task_archived, not_found, … — the server's own error code
export class ApiError extends Error {
  constructor(kind, message, status = null) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
  }
}

export const EXPIRED_MESSAGE = "Your sign-in has expired. Please sign in again.";

// A request that got no answer (so the change it carried may be sent again later).
export function isUnanswered(error) {
  return error instanceof ApiError && (error.kind === "unreachable" || error.kind === "timeout");
}

const URL_EXAMPLE = "Enter the server's address, e.g. https://timetrail.example.com.";

// The server's base URL from what a person typed: http(s) only, no trailing slash; a missing
// scheme means http. Throws ApiError("invalid_server_url") for anything else — a mistyped
// scheme ("htp//host", "http:/host") included, rather than reading it as a host name.
export function normalizeServerUrl(text) {
  let value = String(text ?? "").trim();
  if (value === "") throw new ApiError("invalid_server_url", URL_EXAMPLE);
  const hostPort = /^[^/:]+:\d+(\/|$)/.test(value); // "host:8080" has no scheme
  const typed = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  if (!typed && !hostPort && /^[a-z][a-z0-9+.-]*:/i.test(value)) {
    throw new ApiError("invalid_server_url", `"${value}" is not a web address. ${URL_EXAMPLE}`);
  }
  if (!typed) value = `http://${value}`;
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError("invalid_server_url", URL_EXAMPLE);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ApiError("invalid_server_url", "The server's address must start with http:// or https://.");
  }
  // Without a scheme, a bare word is a server's name only with a port or as localhost:
  // "htp//host" or "http" alone are typos, not hosts.
  const bare = !typed && !url.hostname.includes(".") && !url.port && url.hostname !== "localhost";
  if (bare || url.pathname.includes("//")) {
    throw new ApiError("invalid_server_url", `"${String(text).trim()}" is not a web address. ${URL_EXAMPLE}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ApiError("invalid_server_url", `Enter only the server's address, without a query or credentials. ${URL_EXAMPLE}`);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

// The host permission pattern that lets the extension call that server.
export function originPattern(serverUrl) {
  return `${new URL(serverUrl).origin}/*`;
}

async function errorFrom(response, signedIn) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && typeof body === "object" ? body.error : null;
  const code = error && typeof error.code === "string" ? error.code : null;
  const message = error && typeof error.message === "string" ? error.message : null;
  if (response.status === 401 && signedIn) {
    return new ApiError("expired", EXPIRED_MESSAGE, 401);
  }
  if (code) return new ApiError(code, message || `The server refused (${code}).`, response.status);
  return new ApiError(
    "http",
    `The server answered with HTTP ${response.status}; is this a Timetrail server?`,
    response.status,
  );
}

// `timeoutMs`: how long a request may take; `signal`: an AbortSignal that cancels every request
// of this client (sign-in's Cancel). A write given a `key` sends it as `Idempotency-Key`, so
// the server answers a repeat of it with its first answer instead of doing it twice.
export function createApi({ serverUrl, token = null, fetch: fetchImpl, timeoutMs = TIMEOUT_MS, signal = null }) {
  async function call(method, path, { body, query, key } = {}) {
    let url = serverUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
      }
      const text = params.toString();
      if (text) url += `?${text}`;
    }
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signals = signal ? [timeout.signal, signal] : [timeout.signal];
    const aborted = () => {
      if (signal && signal.aborted) return new ApiError("cancelled", "Cancelled.");
      if (timeout.signal.aborted) {
        return new ApiError(
          "timeout",
          `The Timetrail server at ${serverUrl} did not answer within ${Math.round(timeoutMs / 1000)} seconds.`,
        );
      }
      return null;
    };
    try {
      let response;
      try {
        response = await fetchImpl(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit",
          signal: AbortSignal.any(signals),
        });
      } catch {
        throw aborted() || new ApiError(
          "unreachable",
          `Cannot reach the Timetrail server at ${serverUrl}. Check the address and your connection.`,
        );
      }
      if (!response.ok) throw await errorFrom(response, Boolean(token));
      if (response.status === 204) return null;
      try {
        return await response.json();
      } catch {
        throw aborted() || new ApiError("http", "The server's answer was not JSON; is this a Timetrail server?", response.status);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    serverUrl,
    login: (email, password) => call("POST", "/api/v1/auth/login", { body: { email, password } }),
    logout: () => call("POST", "/api/v1/auth/logout"),
    me: () => call("GET", "/api/v1/me"),
    searchTasks: (q, limit = 8) =>
      call("GET", "/api/v1/tasks", { query: { trackable: "true", q: q.trim(), limit } }),
    // The task imported for a Salesforce record, or null when that record was not imported.
    async taskForRecord(id) {
      try {
        return await call("GET", "/api/v1/tasks/by-source", { query: { system: "salesforce", id } });
      } catch (error) {
        if (error instanceof ApiError && error.kind === "not_found") return null;
        throw error;
      }
    },
    // Archived tasks matching the words (to say why a search found nothing trackable).
    searchArchived: (q, limit = 3) =>
      call("GET", "/api/v1/tasks", { query: { trackable: "false", include_archived: "true", q: q.trim(), limit } })
        .then((answer) => ({ ...answer, items: answer.items.filter((t) => t.archived) })),
    recentTasks: (limit = 5) => call("GET", "/api/v1/tasks/recent", { query: { limit } }),
    timer: () => call("GET", "/api/v1/timer"),
    // The caller's entries starting in [from, to) (Date or ISO text), newest first, and their
    // total in seconds.
    entriesBetween: (from, to, limit = 100) =>
      call("GET", "/api/v1/entries", { query: { from: isoTime(from), to: isoTime(to), limit } }),
    // start/stop/discard/saveNote/updateEntry/deleteEntry take {key, at}: the idempotency key,
    // and when the person did it (ms; sent for start and stop, which happen at that moment).
    start: (taskId, { key, at, note } = {}) =>
      call("POST", "/api/v1/timer/start", {
        body: withoutEmpty({ task_id: taskId, source: "extension", note, started_at: at ? isoTime(at) : undefined }),
        key,
      }),
    stop: ({ key, at } = {}) =>
      call("POST", "/api/v1/timer/stop", { body: withoutEmpty({ stopped_at: at ? isoTime(at) : undefined }), key }),
    discard: ({ key } = {}) => call("DELETE", "/api/v1/timer", { key }),
    saveNote: (entryId, note, { key } = {}) =>
      call("PATCH", `/api/v1/entries/${encodeURIComponent(entryId)}`, { body: { note }, key }),
    updateEntry: (entryId, fields, { key } = {}) =>
      call("PATCH", `/api/v1/entries/${encodeURIComponent(entryId)}`, { body: fields, key }),
    deleteEntry: (entryId, { key } = {}) =>
      call("DELETE", `/api/v1/entries/${encodeURIComponent(entryId)}`, { key }),
  };
}

// An ISO 8601 time in UTC at whole seconds, from a Date, milliseconds or ISO text.
export function isoTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function withoutEmpty(body) {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined && v !== ""));
}
