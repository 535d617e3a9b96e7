// Which Salesforce record a browser tab shows, from its URL alone (no chrome.* here).

const ID_15_OR_18 = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;
const SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const SALESFORCE_HOST_SUFFIXES = [".force.com", ".salesforce.com"];

// The three-character suffix Salesforce appends to a 15-character (case-sensitive) id to make
// its 18-character (case-insensitive) form: for each block of five characters, a bit per
// upper-case letter, read as an index into A–Z0–5.
export function checksumSuffix(id15) {
  let suffix = "";
  for (let block = 0; block < 3; block += 1) {
    let bits = 0;
    for (let i = 0; i < 5; i += 1) {
      const c = id15.charAt(block * 5 + i);
      if (c >= "A" && c <= "Z") bits |= 1 << i;
    }
    suffix += SUFFIX_ALPHABET.charAt(bits);
  }
  return suffix;
}

// A 15- or 18-character record id in its 18-character form, or null when the text is not one.
// An 18-character id must carry the right suffix; any id has at least one digit (every
// Salesforce id does; words in URLs such as "ServiceConsoles" do not).
export function toId18(text) {
  if (typeof text !== "string" || !ID_15_OR_18.test(text) || !/[0-9]/.test(text)) return null;
  const id15 = text.slice(0, 15);
  const suffix = checksumSuffix(id15);
  if (text.length === 18 && text.slice(15).toUpperCase() !== suffix) return null;
  return id15 + suffix;
}

export function isSalesforceHost(hostname) {
  const host = hostname.toLowerCase();
  return SALESFORCE_HOST_SUFFIXES.some((s) => host.endsWith(s));
}

// The record a Salesforce page shows: {id (18 chars), object (Lightning only, else null)}, or
// null for any other page. Lightning: /lightning/r/<Object>/<id>/view (and other tabs of the
// record such as /related/...); Lightning's older address /one/one.app#/sObject/<id>/view;
// Classic: /<id>.
export function recordFromUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "https:" || !isSalesforceHost(parsed.hostname)) return null;
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  if (parts[0] === "lightning" && parts[1] === "r") {
    // /lightning/r/<Object>/<id>/... or the short form /lightning/r/<id>/view
    const withObject = parts.length >= 4 ? toId18(parts[3]) : null;
    if (withObject) return { id: withObject, object: parts[2] };
    const bare = parts.length >= 3 ? toId18(parts[2]) : null;
    return bare ? { id: bare, object: null } : null;
  }
  if (parts[0] === "one" && parts[1] === "one.app") {
    const route = parsed.hash.replace(/^#\/?/, "").split("/");
    const id = route[0] === "sObject" ? toId18(route[1]) : null;
    return id ? { id, object: null } : null;
  }
  if (parts.length === 1) {
    const id = toId18(parts[0]);
    return id ? { id, object: null } : null;
  }
  return null;
}
