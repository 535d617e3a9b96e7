// My week's Salesforce panel (administrators), live: Force synchronization is sent in the
// background and the panel is replaced by the server's answer; while a run is going (the
// panel's data-refresh, in seconds) the panel is fetched again and replaced, so the run's
// progress shows without reloading the page. Without this script the form posts as usual and
// the page refreshes itself until the run ends.
"use strict";

const PANEL = "section.sync";
let nextLook = null;

function shownPanel() {
  return document.querySelector(PANEL);
}

// The panel in a page the server answered, or null (an error page, the sign-in page).
async function panelIn(answer) {
  const page = new DOMParser().parseFromString(await answer.text(), "text/html");
  return page.querySelector(PANEL);
}

function show(panel) {
  shownPanel().replaceWith(panel);
  lookAgainLater();
}

function lookAgainLater() {
  clearTimeout(nextLook);
  const seconds = Number(shownPanel()?.dataset.refresh || 0);
  if (seconds > 0) {
    nextLook = setTimeout(look, seconds * 1000);
  }
}

async function look() {
  let panel;
  try {
    panel = await panelIn(await fetch(shownPanel().dataset.live));
  } catch {
    lookAgainLater(); // the server did not answer: try again in a while
    return;
  }
  if (panel) {
    show(panel);
  } else {
    window.location.reload(); // signed out meanwhile: show the page as it now is
  }
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const panel = form.closest(PANEL);
  if (!panel) {
    return;
  }
  event.preventDefault();
  form.querySelector("button[type=submit]").disabled = true;
  let answered = null;
  try {
    const body = new URLSearchParams(new FormData(form));
    answered = await panelIn(await fetch(panel.dataset.live, { method: "POST", body }));
  } catch {
    answered = null;
  }
  if (answered) {
    show(answered);
  } else {
    form.submit(); // no panel came back: post the form as a page, to show what the server says
  }
});

lookAgainLater();
