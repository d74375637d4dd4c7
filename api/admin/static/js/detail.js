// A video's detail dialog: what is known of it, and its player (player.js).

import { duration, fileSize, displayTitle, h } from "./format.js";
import { playerFor, stopPlayer } from "./player.js";

const $ = (id) => document.getElementById(id);

function facts(video) {
  const size = video.width && video.height ? `${video.width}×${video.height}` : "–";
  return [
    ["Path", video.path],
    ["Duration", duration(video.durationSeconds)],
    ["Picture", `${size} ${video.quality || ""} ${video.orientation || ""}`.trim()],
    ["File size", fileSize(video.fileSize)],
  ];
}

/** Open the detail dialog of `video`; the player replaces "Loading" once the API answered. */
export async function showDetail(video) {
  const dialog = $("detail-dialog");
  const body = $("detail-player");
  $("detail-title").textContent = displayTitle(video);
  $("detail-facts").replaceChildren(...facts(video).flatMap(
    ([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  stopPlayer(body);
  body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  dialog.addEventListener("close", () => stopPlayer(body), { once: true });
  if (!dialog.open) dialog.showModal();
  try {
    body.replaceChildren(await playerFor(video));
  } catch (error) {
    body.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
  }
}
