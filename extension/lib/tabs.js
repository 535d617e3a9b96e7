// Which tab "the page you are on" is (no chrome.* here).

// Normally the popup belongs to a browser window and that window's active tab is the page.
// When popup.html is itself open as a tab (a person pinned it, or the end-to-end test opens it
// that way), the active tab is the popup: then the page is the most recently used other tab.
export function pickPageTab(activeTab, allTabs, ownUrlPrefix) {
  const isPage = (tab) => tab && typeof tab.url === "string" && tab.url !== "" && !tab.url.startsWith(ownUrlPrefix);
  if (isPage(activeTab)) return activeTab;
  const others = (allTabs || []).filter(isPage);
  others.sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0));
  return others[0] || null;
}
