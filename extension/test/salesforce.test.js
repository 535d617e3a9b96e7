import assert from "node:assert/strict";
import { test } from "node:test";

import { checksumSuffix, recordFromUrl, toId18 } from "../lib/salesforce.js";

// 15-character ids and their 18-character forms, worked out by hand: e.g. "500Dn00000AbCdE" has
// upper-case D (bit 3 of block 1 → 8 → "I"), none in block 2 ("A"), A, C, E (bits 0, 2, 4 → 21 → "V").
const KNOWN = [
  ["0065g00000XyZaB", "0065g00000XyZaBAAV"],
  ["001000000000001", "001000000000001AAA"],
  ["a0BZZZZZZZZZZZZ", "a0BZZZZZZZZZZZZ255"],
  ["500Dn00000AbCdE", "500Dn00000AbCdEIAV"],
];

test("15-character ids get the checksum suffix of their upper-case letters", () => {
  for (const [id15, id18] of KNOWN) {
    assert.equal(checksumSuffix(id15), id18.slice(15), id15);
    assert.equal(toId18(id15), id18);
  }
});

test("18-character ids are accepted with the right suffix, in any case, and refused with a wrong one", () => {
  assert.equal(toId18("0065g00000XyZaBAAV"), "0065g00000XyZaBAAV");
  assert.equal(toId18("0065g00000XyZaBaav"), "0065g00000XyZaBAAV");
  assert.equal(toId18("0065g00000XyZaBAAA"), null);
});

test("text that is not a record id is refused", () => {
  for (const text of ["", "0065g00000XyZa", "0065g00000XyZaBAA", "0065g00000XyZaB-AV", "ServiceConsoles", null, 42]) {
    assert.equal(toId18(text), null, String(text));
  }
});

test("Lightning record pages give the record id and object", () => {
  assert.deepEqual(
    recordFromUrl("https://acme.lightning.force.com/lightning/r/Opportunity/0065g00000XyZaBAAV/view"),
    { id: "0065g00000XyZaBAAV", object: "Opportunity" },
  );
  assert.deepEqual(
    recordFromUrl("https://acme.lightning.force.com/lightning/r/Case/500Dn00000AbCdE/view?ws=x#top"),
    { id: "500Dn00000AbCdEIAV", object: "Case" },
  );
  assert.deepEqual(
    recordFromUrl("https://acme--dev.sandbox.lightning.force.com/lightning/r/Opportunity/0065g00000XyZaBAAV/related/Contacts/view"),
    { id: "0065g00000XyZaBAAV", object: "Opportunity" },
  );
  assert.deepEqual(
    recordFromUrl("https://acme.lightning.force.com/lightning/r/0065g00000XyZaB/view"),
    { id: "0065g00000XyZaBAAV", object: null },
  );
});

test("Lightning's older one.app addresses give the record id", () => {
  assert.deepEqual(
    recordFromUrl("https://acme.lightning.force.com/one/one.app#/sObject/0065g00000XyZaB/view"),
    { id: "0065g00000XyZaBAAV", object: null },
  );
  assert.deepEqual(
    recordFromUrl("https://acme.my.salesforce.com/one/one.app#/sObject/500Dn00000AbCdEIAV"),
    { id: "500Dn00000AbCdEIAV", object: null },
  );
  assert.equal(recordFromUrl("https://acme.lightning.force.com/one/one.app#/home"), null);
  assert.equal(recordFromUrl("https://acme.lightning.force.com/one/one.app"), null);
});

test("Classic record pages give the record id", () => {
  assert.deepEqual(recordFromUrl("https://acme.my.salesforce.com/0065g00000XyZaB"), {
    id: "0065g00000XyZaBAAV",
    object: null,
  });
  assert.deepEqual(recordFromUrl("https://na42.salesforce.com/500Dn00000AbCdEIAV?srPos=0"), {
    id: "500Dn00000AbCdEIAV",
    object: null,
  });
});

test("other pages, other hosts and plain http give nothing", () => {
  for (const url of [
    "https://acme.lightning.force.com/lightning/o/Opportunity/list",
    "https://acme.lightning.force.com/lightning/page/home",
    "https://acme.my.salesforce.com/home/home.jsp",
    "https://acme.my.salesforce.com/setup/ServiceConsoles",
    "https://example.com/0065g00000XyZaB",
    "https://force.com.example.com/0065g00000XyZaB",
    "http://acme.my.salesforce.com/0065g00000XyZaB",
    "https://acme.lightning.force.com/lightning/r/Opportunity/0065g00000XyZaBAAA/view",
    "not a url",
    "chrome://newtab/",
  ]) {
    assert.equal(recordFromUrl(url), null, url);
  }
});
