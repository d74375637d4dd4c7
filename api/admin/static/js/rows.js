// One table row per video: rendering only; what the buttons do is passed in.

import {
  byline, date, displayTitle, duration, fileSize, h, tagsText,
} from "./format.js";
import { trashedText } from "./trash.js";

const QUALITY_CLASS = { SD: "q-sd", HD: "q-hd", FHD: "q-fhd", UHD: "q-uhd" };

function thumbnail(video) {
  const placeholder = () => h("span", { class: "thumb placeholder", "aria-hidden": "true" }, "▶");
  if (!video.thumbnailPath) return placeholder();
  // `v` changes when the thumbnail does, so a new one is never hidden by the cache.
  const version = encodeURIComponent(video.thumbnailPath);
  const image = h("img", {
    class: "thumb",
    src: `/api/media/videos/${video.id}/thumbnail?v=${version}`,
    alt: "",
    loading: "lazy",
    decoding: "async",
    width: 80,
    height: 45,
  });
  image.addEventListener("error", () => image.replaceWith(placeholder()), { once: true });
  return image;
}

function titleCell(video) {
  const title = displayTitle(video);
  const cell = h("td", { class: "col-title", "data-label": "Title" },
    h("div", { class: "title" }, title),
    byline(video) ? h("div", { class: "byline" }, byline(video)) : null,
    video.tags?.length ? h("div", { class: "tags" }, tagsText(video.tags)) : null);
  if (video.invalidReason === "trashed") {
    cell.append(h("div", { class: "reason" }, trashedText(video)));
  } else if (!video.isValid) {
    const reason = video.invalidReason || "invalid";
    const detail = video.probeError ? `: ${video.probeError}` : "";
    cell.append(h("div", { class: "reason" }, `Invalid (${reason})${detail}`));
  }
  return cell;
}

function actions(video, handlers) {
  const title = displayTitle(video);
  const button = (label, action, extra = "") => h("button", {
    type: "button",
    class: `small ${extra}`,
    "aria-label": `${label} ${title}`,
    "data-action": action,
    onclick: () => handlers[action](video),
  }, label);
  const buttons = [button("Edit", "edit"), button("Validate", "validate")];
  if (video.invalidReason !== "trashed" && video.invalidReason !== "missing") {
    buttons.unshift(button("Watch", "watch"));
  }
  if (video.isValid) buttons.push(button("Delete", "remove", "danger"));
  else buttons.push(button("Restore", "restore"), button("Delete permanently", "purge", "danger"));
  if (video.invalidReason !== "trashed") buttons.push(button("Move to trash", "trash", "danger"));
  buttons.push(button("History", "history"));
  return h("td", { class: "col-actions", "data-label": "Actions" },
    h("div", { class: "buttons" }, buttons),
    h("div", { class: "row-result", role: "status" }));
}

/** The <tr> of a video; `selected` ticks its box. */
export function videoRow(video, { selected, onSelect, handlers }) {
  const quality = video.quality
    ? h("span", { class: `tag ${QUALITY_CLASS[video.quality] || ""}` }, video.quality)
    : "–";
  const checkbox = h("input", {
    type: "checkbox",
    class: "select",
    "aria-label": `Select ${displayTitle(video)}`,
    checked: selected,
    onchange: (event) => onSelect(video, event.target.checked),
  });
  return h("tr", { class: video.isValid ? "" : "invalid", dataset: { id: video.id } },
    h("td", { class: "col-select" }, checkbox),
    h("td", { class: "col-thumb" }, thumbnail(video)),
    titleCell(video),
    h("td", { "data-label": "Duration", class: "num" }, duration(video.durationSeconds)),
    h("td", { "data-label": "Quality" }, quality),
    h("td", { "data-label": "Orientation" }, video.orientation || "–"),
    h("td", { "data-label": "Directory" }, video.directoryType),
    h("td", { "data-label": "Size", class: "num" }, fileSize(video.fileSize)),
    h("td", { "data-label": "Created" },
      h("time", { datetime: video.createdAt }, date(video.createdAt))),
    actions(video, handlers));
}

/** A full-width row for loading, empty and error states. */
export function messageRow(text, ...extra) {
  return h("tr", { class: "message" }, h("td", { colspan: 10 }, text, ...extra));
}

/** Show the outcome of an action on a row (validate): green when `ok`, red otherwise. */
export function showRowResult(row, ok, text) {
  const target = row?.querySelector(".row-result");
  if (!target) return;
  target.className = `row-result ${ok ? "ok" : "fail"}`;
  target.textContent = text;
}
