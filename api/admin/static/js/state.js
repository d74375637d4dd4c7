// The view's state lives in the URL, so that a filtered view can be bookmarked and reloaded.

const DEFAULTS = {
  view: "library",
  directoryType: "",
  orientation: "",
  quality: [],
  search: "",
  invalid: false,
  sort: "-createdAt",
  page: 1,
  // The API's cursor of the page shown, when it was reached by Next or Previous: a page
  // found by its keys costs the same at any depth. `page` is then only the number shown.
  cursor: "",
  limit: 20,
};
const SORTS = ["createdAt", "title", "durationSeconds", "fileSize"];
const LIMITS = [20, 50, 100];

/** The state in a URL's query string, every value checked (a hand-edited URL is fine). */
export function stateFromUrl(search = window.location.search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS, quality: [] };
  if (["duplicates", "near-duplicates", "cleanup", "integrity"].includes(params.get("view"))) {
    state.view = params.get("view");
  }
  for (const key of ["directoryType", "orientation", "search"]) {
    state[key] = params.get(key) || "";
  }
  state.quality = (params.get("quality") || "").split(",")
    .filter((q) => ["SD", "HD", "FHD", "UHD"].includes(q));
  state.invalid = params.get("invalid") === "1";
  const sort = params.get("sort") || DEFAULTS.sort;
  if (SORTS.includes(sort.replace(/^-/, ""))) state.sort = sort;
  const page = Number.parseInt(params.get("page") || "1", 10);
  state.page = Number.isFinite(page) && page > 0 ? page : 1;
  const limit = Number.parseInt(params.get("limit") || "20", 10);
  state.limit = LIMITS.includes(limit) ? limit : DEFAULTS.limit;
  const cursor = params.get("cursor") || "";
  state.cursor = /^[A-Za-z0-9_-]+$/.test(cursor) ? cursor : "";
  return state;
}

/** The query string of a state, defaults left out. */
export function urlFromState(state) {
  const params = new URLSearchParams();
  if (state.view !== DEFAULTS.view) params.set("view", state.view);
  for (const key of ["directoryType", "orientation", "search", "sort", "page", "limit", "cursor"]) {
    if (state[key] && state[key] !== DEFAULTS[key]) params.set(key, String(state[key]));
  }
  if (state.quality.length) params.set("quality", state.quality.join(","));
  if (state.invalid) params.set("invalid", "1");
  const text = params.toString();
  return `${window.location.pathname}${text ? `?${text}` : ""}`;
}

/** The API's list parameters for a state: its cursor when it has one, else its page. */
export function listParams(state) {
  const where = state.cursor ? { cursor: state.cursor } : { page: state.page };
  return {
    directoryType: state.directoryType,
    orientation: state.orientation,
    // One quality is a plain filter; several go as a comma list.
    quality: state.quality.length === 4 ? "" : state.quality.join(","),
    search: state.search.trim(),
    isValid: state.invalid ? "false" : "",
    sort: state.sort,
    ...where,
    limit: state.limit,
  };
}

/** Push a new state to the URL (one history entry per change). */
export function pushState(state, { replace = false } = {}) {
  const url = urlFromState(state);
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
}
