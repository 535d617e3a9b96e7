import assert from "node:assert/strict";
import { test } from "node:test";

import { pickPageTab } from "../lib/tabs.js";

const OWN = "chrome-extension://abc/";

test("the active tab of the popup's window is the page", () => {
  const active = { id: 1, url: "https://acme.my.salesforce.com/0065g00000XyZaB", lastAccessed: 1 };
  const other = { id: 2, url: "https://example.com/", lastAccessed: 9 };
  assert.equal(pickPageTab(active, [active, other], OWN), active);
});

test("when the popup is a tab itself, the most recently used other tab is the page", () => {
  const popup = { id: 1, url: `${OWN}popup/popup.html`, lastAccessed: 30 };
  const older = { id: 2, url: "https://example.com/", lastAccessed: 10 };
  const newer = { id: 3, url: "https://acme.lightning.force.com/lightning/r/Case/500Dn00000AbCdE/view", lastAccessed: 20 };
  assert.equal(pickPageTab(popup, [popup, older, newer], OWN), newer);
});

test("no page at all gives null", () => {
  const popup = { id: 1, url: `${OWN}popup/popup.html` };
  assert.equal(pickPageTab(popup, [popup, { id: 2 }], OWN), null);
  assert.equal(pickPageTab(undefined, [], OWN), null);
});
