// A video's player: a <video> for files a browser plays, a strip of frames for the others.
// Reusable: the detail dialog and the near-duplicates view both show one per video.

import { call } from "./api.js";
import { h } from "./format.js";

/** Frames in the strip of a file that does not play. */
export const STRIP_FRAMES = 8;

/** Where the strip's frames are, as shares of the duration: the middles of equal parts. */
export function stripPositions(count) {
  return Array.from({ length: count }, (_, index) => ((index + 0.5) / count).toFixed(3));
}

function frameStrip(video, count) {
  return h("ol", { class: "frame-strip", "aria-label": "Frames from across the video" },
    stripPositions(count).map((at) => {
      const image = h("img", {
        src: `/api/media/videos/${video.id}/frame?at=${at}`,
        alt: `Frame at ${Math.round(Number(at) * 100)} %`,
        width: 160,
        decoding: "async",
      });
      // A frame that cannot be made says so in place, the others still show.
      image.addEventListener("error", () => image.replaceWith(
        h("span", { class: "frame-missing" }, "no frame here")), { once: true });
      return h("li", {}, image);
    }));
}

/**
 * The player of `video` (a video record of the API): asks the API whether its file plays
 * in a browser. Resolves to an element; throws the ApiError of the call (404: no file).
 */
export async function playerFor(video, { frames = STRIP_FRAMES } = {}) {
  const playback = await call("GET", `/api/media/videos/${video.id}/playback`);
  if (playback.playable) {
    // preload=none: nothing is read until the admin plays or seeks (a view of several
    // players must not download them all); the thumbnail stands in until then.
    const poster = video.thumbnailPath
      ? `/api/media/videos/${video.id}/thumbnail?v=${encodeURIComponent(video.thumbnailPath)}`
      : undefined;
    const element = h("video", {
      class: "player", controls: true, preload: "none", poster, src: playback.streamUrl,
    });
    return h("div", { class: "playback", dataset: { playable: "true", videoId: video.id } },
      element,
      playback.reason ? h("p", { class: "muted player-note" }, `Note: ${playback.reason}.`) : null);
  }
  return h("div", { class: "playback", dataset: { playable: "false", videoId: video.id } },
    h("p", { class: "unplayable" },
      `This file does not play in a browser: ${playback.reason}. Frames from across its length:`),
    frameStrip(video, frames));
}

/** Stop a player's download and sound (a closed dialog must not keep playing). */
export function stopPlayer(container) {
  for (const element of container.querySelectorAll("video")) {
    element.pause();
    element.removeAttribute("src");
    element.load();
  }
}
