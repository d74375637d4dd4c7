// Start: ask whether the browser is signed in; show the login prompt or the library.
// Nothing is fetched from the API before a session exists.

import { loadSession, login, logout } from "./api.js";
import { Cleanup } from "./cleanup.js";
import { Duplicates } from "./duplicates.js";
import { HeldBanner } from "./held.js";
import { Integrity } from "./integrity.js";
import { Library } from "./library.js";
import { NearDuplicates } from "./near_duplicates.js";
import { stateFromUrl } from "./state.js";

const $ = (id) => document.getElementById(id);
let library = null;
let duplicates = null;
let nearDuplicates = null;
let cleanup = null;
let integrity = null;
let retry = null;
let held = null;

function showError(error, onRetry) {
  $("banner").hidden = !error;
  $("banner-text").textContent = error ? error.message : "";
  retry = onRetry || null;
  $("banner-retry").hidden = !onRetry;
}

function showLogin(message) {
  const hidden = [
    "library", "duplicates", "near-duplicates", "cleanup", "integrity", "views", "logout",
    "banner", "booting", "held",
  ];
  for (const id of hidden) {
    $(id).hidden = true;
  }
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
  $("login-token").focus();
}

function showView() {
  const state = stateFromUrl();
  for (const id of ["login", "booting"]) $(id).hidden = true;
  $("views").hidden = false;
  $("logout").hidden = false;
  for (const link of document.querySelectorAll("#views a")) {
    if (link.dataset.view === state.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("library").hidden = state.view !== "library";
  $("duplicates").hidden = state.view !== "duplicates";
  $("near-duplicates").hidden = state.view !== "near-duplicates";
  held ||= new HeldBanner(() => library?.load());
  held.load();
  $("cleanup").hidden = state.view !== "cleanup";
  $("integrity").hidden = state.view !== "integrity";
  if (state.view === "cleanup") {
    cleanup ||= new Cleanup(showError);
  } else if (state.view === "duplicates") {
    duplicates ||= new Duplicates(showError);
    duplicates.load(1);
  } else if (state.view === "near-duplicates") {
    nearDuplicates ||= new NearDuplicates(showError);
    nearDuplicates.load(1);
  } else if (state.view === "integrity") {
    integrity ||= new Integrity(showError);
    integrity.load(1);
  } else {
    if (library) library.state = state;
    else library = new Library(state, showError);
    library.load();
  }
}

async function signIn(token) {
  try {
    await login(token);
    $("login-token").value = "";
    showView();
  } catch (error) {
    showLogin(error.status === 401 || error.status === 403
      ? `That token was not accepted: ${error.message}`
      : error.message);
  }
}

async function start() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("login-token").value.trim());
  });
  $("logout").addEventListener("click", async () => {
    try {
      await logout();
    } finally {
      showLogin("You are signed out.");
    }
  });
  $("banner-retry").addEventListener("click", () => retry?.());
  window.addEventListener("signed-out", () => showLogin("Your session has ended; sign in again."));
  window.addEventListener("popstate", () => showView());
  for (const link of document.querySelectorAll("#views a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      window.history.pushState(null, "", link.getAttribute("href"));
      showView();
    });
  }
  // A login link (`#token=...`): the token is taken out of the address bar at once.
  const hash = new URLSearchParams(window.location.hash.slice(1));
  if (hash.get("token")) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    await signIn(hash.get("token"));
    return;
  }
  try {
    const session = await loadSession();
    if (session.authenticated) showView();
    else showLogin();
  } catch (error) {
    $("booting").textContent = `Cannot reach the server: ${error.message}`;
  }
}

start();
