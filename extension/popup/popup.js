// The popup: sign-in, task search (ARIA combobox), the running timer with its note, and the
// task of the Salesforce record in the current tab. All state it keeps across openings is in
// chrome.storage (lib/storage.js); the truth about the timer is the server's.
import { ApiError, DEFAULT_SERVER_URL, EXPIRED_MESSAGE, isUnanswered, normalizeServerUrl, originPattern, createApi } from "../lib/api.js";
import { showTimerOnBadge } from "../lib/badge.js";
import { elapsedSeconds, formatHM, formatHMS, pathText } from "../lib/format.js";
import { isSalesforceHost, recordFromUrl } from "../lib/salesforce.js";
import { perform } from "../lib/outbox.js";
import { entriesWithWaiting, waitingText } from "../lib/queue.js";
import { idleQuestion, idleText } from "../lib/idle.js";
import { parseIdleMinutes } from "../lib/settings.js";
import { clearSession, getIdle, getQueue, getSettings, rememberServerUrl, saveAccountIdleMinutes, saveIdle, saveSettings, getSession, getTimer, lastServerUrl, saveSession, takeNotice } from "../lib/storage.js";
import { pickPageTab } from "../lib/tabs.js";
import { clockText, dayBounds, entryEdits, spanText } from "../lib/today.js";
import { apiFor, ensureRefreshAlarm, refreshTimer, signedOutBecauseExpired } from "../lib/timer-sync.js";

const SEARCH_DELAY_MS = 250;
const NOTE_DELAY_MS = 800;
// While open, the popup re-reads the server this often (and whenever it gets the focus back).
const LIVE_REFRESH_MS = 3000;

const $ = (id) => document.getElementById(id);

// Popup-page state (the page lives only while the popup is open).
const view = {
  session: null,
  timer: null,
  options: [],
  active: -1,
  selected: null,
  searchSeq: 0,
  searchTimer: null,
  noteTimer: null,
  ticker: null,
  live: null,
  refreshing: false,
  signIn: null, // the AbortController of a sign-in under way
  serverUrl: null, // the server chosen in the sign-in's first step
  todayStale: true,
  today: null, // today's entries as the server last gave them: {items, total}
  editing: null, // the id of the entry whose edit form is open
};

// Messages ------------------------------------------------------------------------------------

// `retry`: a function the message's Retry button runs (for a server that did not answer).
function showMessage(text, kind = "error", retry = null) {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  $("message-box").hidden = false;
  $("retry").hidden = retry === null;
  $("retry").onclick = retry;
}

function clearMessage() {
  $("message-box").hidden = true;
  $("message").textContent = "";
  $("retry").hidden = true;
}

// "offline — N changes waiting": what the person did is kept and sent once the server answers.
function renderWaiting(count) {
  $("offline").textContent = waitingText(count);
  $("offline").hidden = count === 0;
}

// Every failed call ends here: an expired sign-in goes back to the sign-in screen, anything else
// is said in the message box (the server's own sentence when it sent one).
async function handleError(error) {
  if (error instanceof ApiError && error.kind === "expired") {
    await signedOutBecauseExpired();
    showSignIn(await takeNotice() || EXPIRED_MESSAGE);
    return;
  }
  if (isUnanswered(error) && view.session) {
    showMessage(error.message, "error", () => refreshNow(true));
    return;
  }
  showMessage(error instanceof ApiError ? error.message : `Something went wrong: ${error}`);
}

// Sign-in -------------------------------------------------------------------------------------

// Signing in takes two steps: the server's address (checked, and its host permission asked
// for, while the click on Continue still counts as a user gesture: Chrome may close the popup
// to ask, and nothing typed is lost then), then the email and password.
async function showSignIn(notice = null) {
  view.session = null;
  view.today = null; // (the next sign-in may be someone else's)
  $("today-list").replaceChildren();
  stopTicker();
  stopLive();
  renderWaiting(0);
  $("tracker").hidden = true;
  const known = await lastServerUrl();
  if (known && (await chrome.permissions.contains({ origins: [originPattern(known)] }))) {
    showCredentialsStep(known);
  } else {
    showServerStep(known || DEFAULT_SERVER_URL);
  }
  if (notice) showMessage(notice);
  else clearMessage();
}

function showServerStep(url) {
  $("signin").hidden = true;
  $("server-step").hidden = false;
  $("server-url").value = url;
  $("server-url").focus();
}

function showCredentialsStep(serverUrl) {
  view.serverUrl = serverUrl;
  $("server-step").hidden = true;
  $("signin").hidden = false;
  $("signin-server").textContent = serverUrl;
  $("email").focus();
}

async function chooseServer(event) {
  event.preventDefault();
  clearMessage();
  let serverUrl;
  try {
    serverUrl = normalizeServerUrl($("server-url").value);
  } catch (error) {
    await handleError(error);
    return;
  }
  const origins = [originPattern(serverUrl)];
  const granted = (await chrome.permissions.contains({ origins })) || (await chrome.permissions.request({ origins }));
  if (!granted) {
    showMessage(`Timetrail needs your permission to reach ${serverUrl}. Press Continue again and allow it.`);
    return;
  }
  await rememberServerUrl(serverUrl);
  showCredentialsStep(serverUrl);
}

async function signIn(event) {
  event.preventDefault();
  clearMessage();
  const button = $("signin-button");
  const serverUrl = view.serverUrl;
  const email = $("email").value.trim();
  const password = $("password").value;
  if (!email || !password) {
    showMessage("Enter your email and password.");
    return;
  }
  button.disabled = true;
  const cancel = new AbortController();
  view.signIn = cancel;
  $("signin-cancel").hidden = false;
  try {
    const api = createApi({ serverUrl, fetch: (...a) => fetch(...a), signal: cancel.signal });
    const answer = await api.login(email, password);
    await saveSession({ serverUrl, token: answer.token, user: answer.user });
    await rememberAccountIdleMinutes(serverUrl, answer.token);
    $("password").value = "";
    await ensureRefreshAlarm();
    await showTracker();
  } catch (error) {
    if (error instanceof ApiError && error.kind === "cancelled") showMessage("Sign-in cancelled.", "info");
    else await handleError(error);
  } finally {
    view.signIn = null;
    $("signin-cancel").hidden = true;
    button.disabled = false;
  }
}

function cancelSignIn() {
  if (view.signIn) view.signIn.abort();
}

async function signOut() {
  const session = view.session;
  clearMessage();
  let notice = null;
  if (session) {
    try {
      await apiFor(session).logout();
    } catch (error) {
      // Expired already means revoked; otherwise say that the token may still be valid.
      if (!(error instanceof ApiError && error.kind === "expired")) {
        notice = `Signed out here, but the server did not confirm it: ${error.message}`;
      }
    }
  }
  await clearSession(null, { dropQueue: true });
  await showTimerOnBadge(null);
  await showSignIn(notice);
}

// The tracker -----------------------------------------------------------------------------------

async function showTracker() {
  view.session = await getSession();
  if (!view.session) {
    await showSignIn(await takeNotice());
    return;
  }
  $("signin").hidden = true;
  $("server-step").hidden = true;
  $("tracker").hidden = false;
  const user = view.session.user || {};
  $("who").textContent = user.name ? `${user.name} · ${user.email}` : user.email || "";
  renderTimer(await getTimer()); // the last known state at once, then the server's
  renderWaiting((await getQueue()).length);
  await showSettings();
  if (!(await refreshNow(true))) return;
  $("search").focus();
  startLive();
  await askAboutIdle();
  await suggestForCurrentTab();
}

// Re-read the server (sending what waits first) and show it. `speak`: say a failure (the
// periodic refresh stays quiet about one it has said already). Returns false once signed out.
async function refreshNow(speak = false) {
  if (view.refreshing || !view.session) return Boolean(view.session);
  view.refreshing = true;
  try {
    const { timer, error, waiting, failed } = await refreshTimer();
    if (error && error.kind === "expired") {
      await handleError(error);
      return false;
    }
    renderWaiting(waiting);
    for (const { change, error: refused } of failed) showRefused(change, refused);
    if (error && speak) await handleError(error);
    else if (!error && !$("retry").hidden) clearMessage(); // the server is back
    const changed = !timer || !sameTimer(view.timer, timer);
    if (changed) dropNoteOfStoppedEntry(timer);
    renderTimer(timer);
    if ((changed || view.todayStale) && !error) await loadToday();
    return true;
  } finally {
    view.refreshing = false;
  }
}

function sameTimer(a, b) {
  return Boolean(a && b && a.running === b.running && (a.entry?.id ?? null) === (b.entry?.id ?? null));
}

// The running entry changed under the note being typed (stopped elsewhere): the note is not
// saved onto an entry the person no longer looks at; they are told, and the text stays.
function dropNoteOfStoppedEntry(timer) {
  if (view.noteTimer === null || !view.timer?.running) return;
  if (timer && timer.running && view.timer.entry?.startKey && timer.entry) return; // an offline start got its id
  clearTimeout(view.noteTimer);
  view.noteTimer = null;
  showMessage("The timer was stopped elsewhere; the note was not saved.", "info");
}

function showRefused(change, error) {
  const what = { start: "A start", stop: "A stop", discard: "A discard", note: "A note", update: "An edit", delete: "A deletion" }[change.kind];
  showMessage(`${what} made offline was refused by the server: ${error.message}`);
}

function startLive() {
  if (view.live === null) view.live = setInterval(() => refreshNow(false), LIVE_REFRESH_MS);
}

function stopLive() {
  if (view.live !== null) clearInterval(view.live);
  view.live = null;
}

function startTicker() {
  if (view.ticker === null) view.ticker = setInterval(renderElapsed, 1000);
}

function stopTicker() {
  if (view.ticker !== null) clearInterval(view.ticker);
  view.ticker = null;
}

function renderElapsed() {
  const timer = view.timer;
  if (timer && timer.running) {
    $("elapsed").textContent = formatHMS(elapsedSeconds(timer.entry, timer.fetchedAt, Date.now()));
  }
}

function renderTimer(timer) {
  view.timer = timer;
  const running = Boolean(timer && timer.running && timer.entry);
  $("running").hidden = !running;
  if (!running) {
    stopTicker();
    renderSuggestionState();
    return;
  }
  const task = timer.entry.task;
  $("running-name").textContent = task ? task.name : "(no task)";
  $("running-path").textContent = task ? pathText(task.path) : "";
  if (document.activeElement !== $("note")) $("note").value = timer.entry.note || "";
  renderElapsed();
  startTicker();
  renderSuggestionState();
}

// A change the person makes (start, stop, discard, note, an entry's edit or deletion) goes
// through the outbox: kept with the moment it happened, sent at once, and, when the server does
// not answer, sent later in order. Returns {answer, waiting}: the server's answer (null while the
// change waits), and whether it waits. A refusal is thrown.
async function change(kind, fields) {
  const result = await perform(kind, fields);
  renderWaiting(result.left.length);
  const refused = result.failed.find((f) => f.change.key === result.change.key);
  const waiting = result.left.some((c) => c.key === result.change.key);
  for (const f of result.failed) if (f !== refused) showRefused(f.change, f.error);
  if (refused) {
    renderTimer((await refreshTimer()).timer);
    throw refused.error;
  }
  if (result.error && result.error.kind === "expired") throw result.error;
  if (waiting) {
    renderTimer(await getTimer());
    await showTimerOnBadge(await getTimer(), result.left.length);
    view.todayStale = true; // read again once the server answers
    await renderTodayLocally();
    return { answer: null, waiting: true };
  }
  const sent = result.sent.find((s) => s.change.key === result.change.key);
  renderTimer((await refreshTimer()).timer);
  await loadToday();
  return { answer: sent ? sent.answer : null, waiting: false };
}

async function startTask(task) {
  clearMessage();
  await flushNote();
  setBusy(true);
  try {
    await change("start", { task: { id: task.id, name: task.name, path: task.path } });
    clearSearch();
    $("note-status").textContent = "";
    $("note").focus();
  } catch (error) {
    await handleError(error);
  } finally {
    setBusy(false);
  }
}

async function stopTracking() {
  clearMessage();
  await flushNote();
  setBusy(true);
  try {
    const { answer } = await change("stop");
    if (answer) {
      const entry = answer.entry;
      const name = entry.task ? entry.task.name : "the timer";
      showMessage(`Stopped ${name} after ${formatHMS(entry.duration)}.`, "info");
    } else {
      showMessage("Stopped. The server will get the stop time once it can be reached.", "info");
    }
  } catch (error) {
    if (error instanceof ApiError && error.kind === "no_running_timer") showMessage(error.message, "info");
    else await handleError(error);
  } finally {
    setBusy(false);
  }
}

async function discardTimer() {
  clearMessage();
  if (view.noteTimer !== null) clearTimeout(view.noteTimer);
  view.noteTimer = null;
  setBusy(true);
  try {
    await change("discard");
    showMessage("Timer discarded; no time was kept.", "info");
  } catch (error) {
    if (error instanceof ApiError && error.kind === "no_running_timer") showMessage(error.message, "info");
    else await handleError(error);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  $("stop").disabled = busy;
  $("discard").disabled = busy;
  $("start").disabled = busy || view.selected === null;
  $("suggestion-start").disabled = busy || $("suggestion-start").dataset.blocked === "true";
}

// The note on the running entry: saved a moment after typing stops, and on leaving the field.

function noteChanged() {
  $("note-status").textContent = "";
  clearTimeout(view.noteTimer);
  view.noteTimer = setTimeout(saveNote, NOTE_DELAY_MS);
}

async function flushNote() {
  if (view.noteTimer !== null) {
    clearTimeout(view.noteTimer);
    await saveNote();
  }
}

async function saveNote() {
  view.noteTimer = null;
  const timer = view.timer;
  if (!timer || !timer.running || !view.session) return;
  const note = $("note").value;
  if (note === (timer.entry.note || "")) return;
  const target = timer.entry.id ? { entryId: timer.entry.id } : { startKey: timer.entry.startKey };
  try {
    const { answer } = await change("note", { ...target, note });
    $("note-status").textContent = answer ? "Note saved" : "Note kept; it is saved once the server can be reached";
  } catch (error) {
    await handleError(error);
  }
}

// Task search: an ARIA combobox over a listbox of the server's matches ------------------------

function clearSearch() {
  $("search").value = "";
  $("search-status").textContent = "";
  view.selected = null;
  $("start").disabled = true;
  closeList();
}

function closeList() {
  view.options = [];
  view.active = -1;
  $("results").replaceChildren();
  $("results").hidden = true;
  $("search").setAttribute("aria-expanded", "false");
  $("search").removeAttribute("aria-activedescendant");
}

function searchTyped() {
  view.selected = null;
  $("start").disabled = true;
  // The list on show answers the previous words: away with it, so that Enter cannot pick from it.
  closeList();
  view.searchSeq += 1;
  clearTimeout(view.searchTimer);
  view.searchTimer = setTimeout(() => runSearch($("search").value), SEARCH_DELAY_MS);
}

async function runSearch(q) {
  if (!view.session) return;
  const seq = ++view.searchSeq;
  try {
    const answer = await apiFor(view.session).searchTasks(q);
    if (seq !== view.searchSeq) return; // a newer search is under way
    renderOptions(answer.items);
    if (answer.items.length === 0 && q.trim() !== "") await sayIfArchived(q, seq);
  } catch (error) {
    if (seq === view.searchSeq) await handleError(error);
  }
}

// A search that found nothing trackable: say so when it is because the task is archived (a
// closed Opportunity or Case), not just "no match".
async function sayIfArchived(q, seq) {
  const archived = (await apiFor(view.session).searchArchived(q)).items;
  if (seq !== view.searchSeq || archived.length === 0) return;
  const names = archived.map((t) => `"${t.name}"`).join(", ");
  $("search-status").textContent = `${names} ${archived.length === 1 ? "is" : "are"} archived and takes no new timers.`.replace("are archived and takes", "are archived and take");
}

function renderOptions(tasks) {
  view.options = tasks;
  view.active = -1;
  const list = $("results");
  list.replaceChildren(
    ...tasks.map((task, i) => {
      const li = document.createElement("li");
      li.id = `task-option-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = task.name;
      const path = document.createElement("span");
      path.className = "path";
      path.textContent = pathText(task.path);
      li.append(name, path);
      // mousedown, not click: it comes before the input's blur closes the list
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(i);
      });
      return li;
    }),
  );
  $("search-status").textContent = tasks.length === 0 ? "No trackable task matches." : "";
  list.hidden = tasks.length === 0;
  $("search").setAttribute("aria-expanded", String(tasks.length > 0));
}

function highlight(index) {
  const items = $("results").children;
  if (items.length === 0) return;
  view.active = (index + items.length) % items.length;
  for (let i = 0; i < items.length; i += 1) {
    items[i].setAttribute("aria-selected", String(i === view.active));
  }
  const item = items[view.active];
  $("search").setAttribute("aria-activedescendant", item.id);
  item.scrollIntoView({ block: "nearest" });
}

function choose(index) {
  const task = view.options[index];
  if (!task) return;
  view.selected = task;
  $("search").value = task.name;
  $("search-status").textContent = pathText([...task.path, task.name]);
  closeList();
  $("start").disabled = false;
}

function searchKey(event) {
  const open = view.options.length > 0;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (!open) {
      runSearch($("search").value);
      return;
    }
    highlight(view.active + (event.key === "ArrowDown" ? 1 : -1));
  } else if (event.key === "Enter") {
    event.preventDefault();
    if (open && view.active >= 0) choose(view.active);
    else if (open && view.options.length === 1) choose(0);
    else if (!open && view.selected) startTask(view.selected);
  } else if (event.key === "Escape" && open) {
    event.preventDefault(); // close the list, not the popup
    closeList();
  }
}

// The Salesforce record in the current tab ------------------------------------------------------

// The page the person is on: the active tab of the popup's window — or, when popup.html is open
// as a tab itself, the most recently used other tab (lib/tabs.js). The URL is readable through
// `activeTab`, granted by the click on the toolbar icon or the shortcut that opened the popup.
async function currentPageTab() {
  const [active] = await chrome.tabs.query({ active: true, currentWindow: true });
  const all = await chrome.tabs.query({ windowType: "normal" });
  return pickPageTab(active, all, chrome.runtime.getURL(""));
}

async function suggestForCurrentTab() {
  const box = $("suggestion");
  const tab = await currentPageTab();
  const record = tab ? recordFromUrl(tab.url) : null;
  box.dataset.taskId = "";
  if (!record || !view.session) {
    box.hidden = true;
    showPageNote(tab && onSalesforce(tab.url) ? "On a Salesforce list or other page nothing is suggested: open a record to track it." : "");
    return;
  }
  let task;
  try {
    task = await apiFor(view.session).taskForRecord(record.id);
  } catch (error) {
    await handleError(error);
    return;
  }
  if (!task) {
    box.hidden = true;
    showPageNote("This Salesforce record is not in Timetrail (it was not imported), so there is nothing to suggest.");
    return;
  }
  showPageNote("");
  box.dataset.taskId = task.id;
  box.dataset.archived = String(Boolean(task.archived));
  $("suggestion-name").textContent = task.name;
  $("suggestion-path").textContent = pathText(task.path);
  $("suggestion-start").setAttribute("aria-label", `Start tracking ${task.name}`);
  $("suggestion-start").onclick = () => startTask(task);
  renderSuggestionState();
}

function onSalesforce(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" && isSalesforceHost(parsed.hostname);
  } catch {
    return false;
  }
}

function showPageNote(text) {
  $("page-note").textContent = text;
  $("page-note").hidden = text === "";
}

function renderSuggestionState() {
  const box = $("suggestion");
  const button = $("suggestion-start");
  const note = $("suggestion-note");
  // The running card already shows the task being tracked: the suggestion does not repeat it.
  const tracking = Boolean(view.timer && view.timer.running && view.timer.entry?.task_id === box.dataset.taskId);
  box.hidden = !box.dataset.taskId || tracking;
  const archived = box.dataset.archived === "true";
  button.dataset.blocked = String(archived);
  button.disabled = archived;
  note.hidden = !archived;
  note.textContent = archived ? "This record's task is archived and takes no new timers." : "";
}

// Idle time: kept, or cut off (the entry ends when idle began), or cut off and tracked again now.

async function askAboutIdle() {
  const idle = await getIdle();
  const question = idleQuestion(view.timer, idle);
  if (!question) {
    if (idle && idle.until !== null) await saveIdle(null); // nothing to ask about any more
    $("idle").hidden = true;
    return;
  }
  const task = view.timer.entry.task;
  $("idle-text").textContent = idleText(question, task ? task.name : null, (ms) => clockText(new Date(ms).toISOString()));
  $("idle").hidden = false;
  $("idle-keep").onclick = () => answerIdle(null);
  $("idle-discard").onclick = () => answerIdle(question, false);
  $("idle-continue").onclick = () => answerIdle(question, true);
}

async function answerIdle(question, continueNow = false) {
  $("idle").hidden = true;
  await saveIdle(null);
  if (!question) return;
  const task = view.timer?.entry?.task || null;
  try {
    await flushNote();
    await change("stop", { at: question.since });
    if (continueNow) await change("start", { task: task && { id: task.id, name: task.name, path: task.path } });
    showMessage(continueNow ? "Idle time discarded; tracking again." : "Idle time discarded: the timer stopped when you went idle.", "info");
  } catch (error) {
    await handleError(error);
  }
}

// Today: the day's total and entries, with continue, edit and delete --------------------------

async function loadToday() {
  if (!view.session || view.editing !== null) return; // (never under an open edit form)
  const { from, to } = dayBounds();
  try {
    const answer = await apiFor(view.session).entriesBetween(from, to);
    view.todayStale = false;
    view.today = { items: answer.items, total: answer.total_seconds || 0 };
  } catch (error) {
    view.todayStale = true;
    if (!isUnanswered(error)) {
      await handleError(error);
      return;
    }
  }
  await renderTodayLocally();
}

// Today as last read, with the edits and deletions still waiting for the server applied.
async function renderTodayLocally() {
  if (view.today === null || view.editing !== null) return;
  const { items, total } = entriesWithWaiting(view.today, await getQueue());
  renderToday(items, total);
}

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

function renderToday(entries, total) {
  $("today-total").textContent = formatHM(total);
  $("today-total").setAttribute("aria-label", `Today's total ${formatHM(total)}`);
  $("today-empty").hidden = entries.length > 0;
  $("today-list").replaceChildren(
    ...entries.map((entry) => {
      const li = document.createElement("li");
      const name = entry.task ? entry.task.name : "(no task)";
      const span = spanText(entry);
      const title = document.createElement("span");
      title.className = "name";
      title.textContent = name;
      const when = document.createElement("span");
      when.className = "span";
      when.textContent = `${span} · ${formatHM(entry.duration)}`;
      li.append(title, when);
      if (entry.note) {
        const note = document.createElement("p");
        note.className = "entry-note";
        note.textContent = entry.note;
        li.append(note);
      }
      const actions = document.createElement("div");
      actions.className = "actions";
      const running = entry.end === null;
      if (entry.task && !running) {
        actions.append(button("Continue", `Continue ${name}`, () => startTask(entry.task)));
      }
      actions.append(button("Edit", `Edit ${name} ${span}`, () => openEdit(li, entry)));
      if (!running) actions.append(button("Delete", `Delete ${name} ${span}`, () => deleteEntry(entry)));
      li.append(actions);
      return li;
    }),
  );
}

function timeField(labelText, value) {
  const label = document.createElement("label");
  label.textContent = labelText;
  const input = document.createElement("input");
  input.type = "time";
  input.value = value;
  label.append(input);
  return { label, input };
}

function openEdit(li, entry) {
  view.editing = entry.id;
  const form = document.createElement("form");
  const start = timeField("Start", clockText(entry.start));
  const end = entry.end ? timeField("End", clockText(entry.end)) : null;
  const noteLabel = document.createElement("label");
  noteLabel.textContent = "Entry note";
  const note = document.createElement("input");
  note.type = "text";
  note.value = entry.note || "";
  noteLabel.append(note);
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "primary";
  save.textContent = "Save";
  const cancel = button("Cancel", "Cancel editing", () => closeEdit());
  form.append(start.label, ...(end ? [end.label] : []), noteLabel, save, cancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { edits, error } = entryEdits(entry, { start: start.input.value, end: end?.input.value, note: note.value });
    if (error) {
      showMessage(error);
      return;
    }
    let waiting = false;
    try {
      if (Object.keys(edits).length > 0) ({ waiting } = await change("update", { entryId: entry.id, edits }));
    } catch (failure) {
      await handleError(failure); // (the form stays open to put it right)
      return;
    }
    if (waiting) showMessage("Edit kept; it is sent once the server can be reached.", "info");
    else clearMessage();
    await closeEdit(waiting);
  });
  li.querySelector(".actions").replaceWith(form);
  start.input.focus();
}

// `offline`: the server did not answer just now; show the list as kept rather than ask again.
async function closeEdit(offline = false) {
  view.editing = null;
  if (offline) await renderTodayLocally();
  else await loadToday();
}

async function deleteEntry(entry) {
  clearMessage();
  const what = `${entry.task ? entry.task.name : "the entry"} ${spanText(entry)}`;
  try {
    const { waiting } = await change("delete", { entryId: entry.id });
    showMessage(waiting ? `Deleted ${what}; the server gets it once it can be reached.` : `Deleted ${what}.`, "info");
  } catch (error) {
    await handleError(error);
    await loadToday();
  }
}

// Recents: the first suggestions of an empty search.
async function showRecents() {
  if (!view.session || $("search").value.trim() !== "" || view.options.length > 0) return;
  const seq = ++view.searchSeq;
  try {
    const answer = await apiFor(view.session).recentTasks();
    if (seq !== view.searchSeq || $("search").value.trim() !== "") return;
    renderOptions(answer.items);
    if (answer.items.length > 0) $("search-status").textContent = "Recent tasks";
    else $("search-status").textContent = "";
  } catch (error) {
    if (!isUnanswered(error)) await handleError(error);
  }
}

// Settings: kept in chrome.storage; the service worker applies a change at once ---------------

// The account's idle minutes, the default of the person's own setting; read once a sign-in
// succeeded (a failure here leaves the previous default and does not undo the sign-in).
async function rememberAccountIdleMinutes(serverUrl, token) {
  try {
    const me = await createApi({ serverUrl, token, fetch: (...a) => fetch(...a) }).me();
    await saveAccountIdleMinutes(me?.account?.idle_minutes);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error; // unreachable or refused: keep what was known
  }
}

async function showSettings() {
  $("idle-minutes").value = String((await getSettings()).idleMinutes);
  $("settings-status").textContent = "";
}

async function saveSettingsForm(event) {
  event.preventDefault();
  const { value, error } = parseIdleMinutes($("idle-minutes").value);
  if (error) {
    $("settings-status").textContent = error;
    $("idle-minutes").setAttribute("aria-invalid", "true");
    return;
  }
  $("idle-minutes").removeAttribute("aria-invalid");
  await saveSettings({ ...(await getSettings()), idleMinutes: value });
  $("settings-status").textContent = `Saved: idle time is asked about after ${value} ${value === 1 ? "minute" : "minutes"}.`;
}

// Wiring -----------------------------------------------------------------------------------------

$("server-form").addEventListener("submit", chooseServer);
$("signin-form").addEventListener("submit", signIn);
$("change-server").addEventListener("click", () => showServerStep(view.serverUrl || DEFAULT_SERVER_URL));
$("signout").addEventListener("click", signOut);
$("start").addEventListener("click", () => view.selected && startTask(view.selected));
$("stop").addEventListener("click", stopTracking);
$("discard").addEventListener("click", discardTimer);
$("signin-cancel").addEventListener("click", cancelSignIn);
$("settings-form").addEventListener("submit", saveSettingsForm);
window.addEventListener("focus", () => refreshNow(false));
$("note").addEventListener("input", noteChanged);
$("note").addEventListener("blur", flushNote);
$("search").addEventListener("input", searchTyped);
$("search").addEventListener("keydown", searchKey);
$("search").addEventListener("focus", showRecents);
$("search").addEventListener("blur", () => setTimeout(closeList, 150));
window.addEventListener("pagehide", () => flushNote());

showTracker();
