// The Timetrail HTTP API as the extension uses it, and its failures as messages for people.
// No chrome.* here: `fetch` is a parameter, so node --test drives it with a fake.

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";

// What went wrong, in the terms the popup reacts to:
//   unreachable  — no HTTP answer at all (server down, wrong address, offline)
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

// The server's base URL from what a person typed: http(s) only, no trailing slash; a missing
// scheme means http. Throws ApiError("invalid_server_url") for anything else.
export function normalizeServerUrl(text) {
  let value = String(text ?? "").trim();
  if (value !== "" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) value = `http://${value}`;
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError("invalid_server_url", "Enter the server's address, e.g. https://timetrail.example.com.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ApiError("invalid_server_url", "The server's address must start with http:// or https://.");
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

export function createApi({ serverUrl, token = null, fetch: fetchImpl }) {
  async function call(method, path, { body, query } = {}) {
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
    let response;
    try {
      response = await fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
    } catch {
      throw new ApiError(
        "unreachable",
        `Cannot reach the Timetrail server at ${serverUrl}. Check the address and your connection.`,
      );
    }
    if (!response.ok) throw await errorFrom(response, Boolean(token));
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch {
      throw new ApiError("http", "The server's answer was not JSON; is this a Timetrail server?", response.status);
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
    timer: () => call("GET", "/api/v1/timer"),
    start: (taskId) =>
      call("POST", "/api/v1/timer/start", { body: { task_id: taskId, source: "extension" } }),
    stop: () => call("POST", "/api/v1/timer/stop", { body: {} }),
    saveNote: (entryId, note) =>
      call("PATCH", `/api/v1/entries/${encodeURIComponent(entryId)}`, { body: { note } }),
  };
}
