// A video's history: who changed what and when (GET /api/media/videos/{id}/history).

import { call } from "./api.js";
import { dateTime, displayTitle, h } from "./format.js";

const $ = (id) => document.getElementById(id);

const KIND_LABELS = {
  ingested: "Recorded",
  reprobed: "Re-probed, metadata changed",
  moved: "Moved",
  edited: "Edited",
  invalidated: "Invalidated",
  restored: "Restored",
  validated: "Validated",
  trashed: "Moved to the trash",
  purged: "Purged from the trash",
  deleted: "Deleted permanently",
};

const shown = (value) => (value === null || value === undefined ? "–" : JSON.stringify(value));

/** One line per change: "title: – → "Mountain"", "from a.mp4 to b.mp4", "reason: missing". */
export function describeChanges(kind, changes) {
  if (kind === "moved") return [`${changes.from} → ${changes.to}`];
  if (kind === "ingested" || kind === "deleted") return [changes.path];
  if (kind === "invalidated" || kind === "trashed") {
    return [`reason: ${changes.reason}${changes.probeError ? ` (${changes.probeError})` : ""}`];
  }
  if (kind === "restored" || kind === "validated") {
    return changes.previousReason ? [`was ${changes.previousReason}`] : [];
  }
  return Object.entries(changes).map(
    ([field, { old, new: now }]) => `${field}: ${shown(old)} → ${shown(now)}`);
}

function eventItem(event) {
  return h("li", { class: "history-event", dataset: { kind: event.kind } },
    h("div", {},
      h("strong", {}, KIND_LABELS[event.kind] || event.kind), " ",
      h("span", { class: "muted" },
        "by ", event.actor, ", ",
        h("time", { datetime: event.occurredAt }, dateTime(event.occurredAt)))),
    h("ul", { class: "history-changes" },
      describeChanges(event.kind, event.changes).map((line) => h("li", {}, line))));
}

/** Open the history dialog of `video`, newest first, a page of 50 at a time. */
export async function showHistory(video) {
  const dialog = $("history-dialog");
  const list = $("history-list");
  const more = $("history-more");
  $("history-file").textContent = `${displayTitle(video)} (${video.path})`;
  list.replaceChildren();
  let page = 0;
  const loadMore = async () => {
    page += 1;
    const body = await call("GET", `/api/media/videos/${video.id}/history?page=${page}&limit=50`);
    list.append(...body.data.map(eventItem));
    more.hidden = page >= body.pagination.totalPages;
  };
  more.onclick = () => loadMore();
  await loadMore();
  if (!dialog.open) dialog.showModal();
}
