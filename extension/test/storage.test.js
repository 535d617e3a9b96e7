// What the extension remembers, against a stand-in for chrome.storage.local whose page can be
// closed between two writes (a popup reloaded or dismissed while it is signing out).
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { clearSession, lastServerUrl, takeNotice } from "../lib/storage.js";

const SESSION = { serverUrl: "https://time.example.com", token: "t1", user: { id: "u1" } };

let stored;
let writesLeft; // the page is closed after this many writes (Infinity: it stays open)

class PageClosed extends Error {}

function write(change) {
  if (writesLeft <= 0) throw new PageClosed();
  writesLeft -= 1;
  change();
}

beforeEach(() => {
  stored = {};
  writesLeft = Infinity;
  globalThis.chrome = {
    storage: {
      local: {
        async get(keys) {
          const names = [keys].flat();
          return Object.fromEntries(names.filter((k) => k in stored).map((k) => [k, structuredClone(stored[k])]));
        },
        async set(values) {
          write(() => Object.assign(stored, structuredClone(values)));
        },
        async remove(keys) {
          write(() => [keys].flat().forEach((k) => delete stored[k]));
        },
      },
    },
  };
});

test("an expired sign-in keeps the server's address and says why", async () => {
  stored.session = SESSION;
  stored.timer = { running: false };
  await clearSession("Your sign-in has expired.");
  assert.equal(stored.session, undefined);
  assert.equal(stored.timer, undefined);
  assert.equal(await lastServerUrl(), SESSION.serverUrl);
  assert.equal(await takeNotice(), "Your sign-in has expired.");
  assert.equal(await takeNotice(), null); // said once
});

test("a popup closed in the middle of signing out never forgets the server's address", async () => {
  for (let writes = 0; writes <= 2; writes += 1) {
    stored = { session: SESSION };
    writesLeft = writes;
    await clearSession("Your sign-in has expired.").catch((error) => {
      if (!(error instanceof PageClosed)) throw error;
    });
    assert.equal(await lastServerUrl(), SESSION.serverUrl, `closed after ${writes} writes`);
    // Either still signed in (the server refuses the token again and this runs once more) or
    // signed out with the notice waiting for the sign-in screen.
    if (!("session" in stored)) assert.equal(stored.notice, "Your sign-in has expired.");
  }
});

test("signing out forgets the changes waiting, an expired sign-in keeps them", async () => {
  stored = { session: SESSION, queue: [{ kind: "stop" }], queueOwner: "u1" };
  await clearSession("expired");
  assert.deepEqual(stored.queue, [{ kind: "stop" }]);
  stored.session = SESSION;
  await clearSession(null, { dropQueue: true });
  assert.equal(stored.queue, undefined);
  assert.equal(stored.queueOwner, undefined);
});
