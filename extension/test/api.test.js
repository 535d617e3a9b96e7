import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, EXPIRED_MESSAGE, createApi, normalizeServerUrl, originPattern } from "../lib/api.js";

// A fake fetch that records the requests and answers from a list.
function fakeFetch(...answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls };
}

function reply(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const SERVER = "http://127.0.0.1:8080";

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `not an ApiError: ${error}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

test("sign-in posts the credentials and returns the token", async () => {
  const { fetch, calls } = fakeFetch(reply(200, { token: "t1", user: { id: "u1" } }));
  const answer = await createApi({ serverUrl: SERVER, fetch }).login("ada@acme.test", "pw");
  assert.equal(answer.token, "t1");
  assert.equal(calls[0].url, `${SERVER}/api/v1/auth/login`);
  assert.equal(calls[0].method, "POST");
  assert.deepEqual(calls[0].body, { email: "ada@acme.test", password: "pw" });
  assert.equal(calls[0].headers.Authorization, undefined);
});

test("signed-in calls carry the bearer token; start says it comes from the extension", async () => {
  const { fetch, calls } = fakeFetch(reply(201, { entry: { id: "e1" }, stopped: null }));
  await createApi({ serverUrl: SERVER, token: "t1", fetch }).start("task1");
  assert.equal(calls[0].headers.Authorization, "Bearer t1");
  assert.deepEqual(calls[0].body, { task_id: "task1", source: "extension" });
});

test("search asks for trackable tasks with the typed words", async () => {
  const { fetch, calls } = fakeFetch(reply(200, { items: [], next_cursor: null }));
  await createApi({ serverUrl: SERVER, token: "t", fetch }).searchTasks("  des mo ", 8);
  const url = new URL(calls[0].url);
  assert.equal(url.pathname, "/api/v1/tasks");
  assert.equal(url.searchParams.get("trackable"), "true");
  assert.equal(url.searchParams.get("q"), "des mo");
  assert.equal(url.searchParams.get("limit"), "8");
});

test("the note is saved on the entry", async () => {
  const { fetch, calls } = fakeFetch(reply(200, { id: "e1", note: "hi" }));
  await createApi({ serverUrl: SERVER, token: "t", fetch }).saveNote("e1", "hi");
  assert.equal(calls[0].method, "PATCH");
  assert.equal(calls[0].url, `${SERVER}/api/v1/entries/e1`);
  assert.deepEqual(calls[0].body, { note: "hi" });
});

test("a failed fetch means the server cannot be reached, and says which server", async () => {
  const { fetch } = fakeFetch(new TypeError("Failed to fetch"));
  const error = await failure(createApi({ serverUrl: SERVER, token: "t", fetch }).timer());
  assert.equal(error.kind, "unreachable");
  assert.match(error.message, /Cannot reach the Timetrail server at http:\/\/127\.0\.0\.1:8080/);
});

test("401 on a signed-in call means the sign-in expired", async () => {
  const { fetch } = fakeFetch(reply(401, { error: { code: "unauthorized", message: "Sign in first." } }));
  const error = await failure(createApi({ serverUrl: SERVER, token: "old", fetch }).timer());
  assert.equal(error.kind, "expired");
  assert.equal(error.message, EXPIRED_MESSAGE);
});

test("401 at sign-in is wrong credentials, in the server's words", async () => {
  const body = { error: { code: "invalid_credentials", message: "Wrong email or password." } };
  const { fetch } = fakeFetch(reply(401, body));
  const error = await failure(createApi({ serverUrl: SERVER, fetch }).login("a@b.c", "x"));
  assert.equal(error.kind, "invalid_credentials");
  assert.equal(error.message, "Wrong email or password.");
});

test("archived tasks and missing permission keep the server's code and message", async () => {
  const archived = { error: { code: "task_archived", message: "This task is archived and takes no new timers." } };
  const forbidden = { error: { code: "forbidden", message: "You cannot track time on this task." } };
  const { fetch } = fakeFetch(reply(409, archived), reply(403, forbidden));
  const api = createApi({ serverUrl: SERVER, token: "t", fetch });
  const first = await failure(api.start("x"));
  assert.deepEqual([first.kind, first.status, first.message], [
    "task_archived",
    409,
    "This task is archived and takes no new timers.",
  ]);
  const second = await failure(api.start("y"));
  assert.deepEqual([second.kind, second.status, second.message], [
    "forbidden",
    403,
    "You cannot track time on this task.",
  ]);
});

test("an answer that is not a Timetrail error still gives a sentence", async () => {
  const { fetch } = fakeFetch(new Response("<html>Bad gateway</html>", { status: 502 }));
  const error = await failure(createApi({ serverUrl: SERVER, token: "t", fetch }).timer());
  assert.equal(error.kind, "http");
  assert.match(error.message, /HTTP 502/);
});

test("a record that was not imported is no task rather than an error", async () => {
  const missing = { error: { code: "not_found", message: "No task was imported for that record." } };
  const { fetch, calls } = fakeFetch(reply(404, missing), reply(200, { id: "t9", name: "Acme" }));
  const api = createApi({ serverUrl: SERVER, token: "t", fetch });
  assert.equal(await api.taskForRecord("0065g00000XyZaBAAV"), null);
  assert.equal((await api.taskForRecord("0065g00000XyZaBAAV")).id, "t9");
  const url = new URL(calls[0].url);
  assert.equal(url.pathname, "/api/v1/tasks/by-source");
  assert.equal(url.searchParams.get("system"), "salesforce");
  assert.equal(url.searchParams.get("id"), "0065g00000XyZaBAAV");
});

test("logout's 204 has no body", async () => {
  const { fetch } = fakeFetch(new Response(null, { status: 204 }));
  assert.equal(await createApi({ serverUrl: SERVER, token: "t", fetch }).logout(), null);
});

test("server addresses are normalized and turned into one origin's permission", () => {
  assert.equal(normalizeServerUrl(" http://127.0.0.1:8080/ "), "http://127.0.0.1:8080");
  assert.equal(normalizeServerUrl("timetrail.example.com"), "http://timetrail.example.com");
  assert.equal(normalizeServerUrl("https://example.com/timetrail/"), "https://example.com/timetrail");
  assert.equal(originPattern("https://example.com/timetrail"), "https://example.com/*");
  for (const bad of ["", "ftp://example.com", "http://"]) {
    assert.throws(() => normalizeServerUrl(bad), (e) => e instanceof ApiError && e.kind === "invalid_server_url", bad);
  }
});

test("a server that never answers times out with a message", async () => {
  const hang = (url, init) => new Promise((_, reject) => {
    init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
  const error = await failure(createApi({ serverUrl: SERVER, token: "t", fetch: hang, timeoutMs: 50 }).timer());
  assert.equal(error.kind, "timeout");
  assert.equal(error.message, `The Timetrail server at ${SERVER} did not answer within 0 seconds.`);
});

test("a sign-in can be cancelled", async () => {
  const hang = (url, init) => new Promise((_, reject) => {
    init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
  const cancel = new AbortController();
  const pending = createApi({ serverUrl: SERVER, fetch: hang, signal: cancel.signal }).login("a@b.c", "pw");
  cancel.abort();
  const error = await failure(pending);
  assert.equal(error.kind, "cancelled");
});

test("writes carry their idempotency key and the moment they happened", async () => {
  const { fetch, calls } = fakeFetch(reply(200, { entry: {} }), reply(201, { entry: {} }), reply(204));
  const api = createApi({ serverUrl: SERVER, token: "t", fetch });
  await api.stop({ key: "k1", at: Date.UTC(2026, 0, 5, 9, 30, 15, 500) });
  await api.start("t1", { key: "k2", at: Date.UTC(2026, 0, 5, 9, 0) });
  await api.discard({ key: "k3" });
  assert.equal(calls[0].headers["Idempotency-Key"], "k1");
  assert.deepEqual(calls[0].body, { stopped_at: "2026-01-05T09:30:15Z" });
  assert.deepEqual(calls[1].body, { task_id: "t1", source: "extension", started_at: "2026-01-05T09:00:00Z" });
  assert.equal(calls[2].method, "DELETE");
  assert.equal(calls[2].url, `${SERVER}/api/v1/timer`);
  assert.equal(calls[2].headers["Idempotency-Key"], "k3");
});

test("a mistyped server address is said to be one, not asked permission for", () => {
  for (const bad of ["htp//host", "http:/host", "http", "https://host.example?x=1"]) {
    assert.throws(() => normalizeServerUrl(bad), (e) => e.kind === "invalid_server_url", bad);
  }
  assert.equal(normalizeServerUrl("timetrail:8080"), "http://timetrail:8080");
  assert.equal(normalizeServerUrl("http://timetrail"), "http://timetrail");
});
