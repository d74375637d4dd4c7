// The near-duplicates view: groups of videos that show the same pictures, side by side with
// their thumbnails and playback, and actions through the existing routes: keep one (the
// others' files go to the trash), move one to the trash, or delete one's record.

import { call, queryString } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { duration, fileSize, h } from "./format.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 10;

export class NearDuplicates {
  constructor(showError) {
    this.showError = showError;
    this.page = 1;
    this.totalPages = 0;
    $("near-prev").addEventListener("click", () => this.load(this.page - 1));
    $("near-next").addEventListener("click", () => this.load(this.page + 1));
  }

  async load(page = 1) {
    const box = $("near-groups");
    box.setAttribute("aria-busy", "true");
    try {
      const result = await call(
        "GET", `/api/media/videos/near-duplicates${queryString({ page, limit: LIMIT })}`,
      );
      // A page emptied by the last action: show the one before it.
      if (!result.data.length && page > 1) return this.load(page - 1);
      this.page = result.pagination.page;
      this.totalPages = result.pagination.totalPages;
      this.showError(null);
      box.replaceChildren(...(result.data.length
        ? result.data.map((g) => this.group(g))
        : [h("p", { class: "empty" }, "No near-duplicates found among the fingerprinted videos.")]));
      $("near-info").textContent = `Page ${this.page} of ${Math.max(this.totalPages, 1)}`
        + ` · ${result.pagination.total} groups`;
      $("near-prev").disabled = this.page <= 1;
      $("near-next").disabled = this.page >= this.totalPages;
    } catch (error) {
      box.replaceChildren(h("p", { class: "error" }, `Could not load near-duplicates: ${error.message}`));
      if (error.status !== 401) this.showError(error, () => this.load(page));
    } finally {
      box.removeAttribute("aria-busy");
    }
  }

  group(g) {
    const status = h("p", { class: "status", role: "status" });
    const others = (kept) => g.members.filter((m) => m.video.id !== kept.video.id);
    const card = (member) => h("li", { class: "near-card", dataset: { id: member.video.id } },
      player(member.video),
      h("p", {}, h("code", {}, member.video.path)),
      h("p", { class: "muted" }, facts(member.video)),
      h("p", { class: "near-match" }, member.isFirst ? "Suggested keeper" : explain(member.match)),
      h("div", { class: "actions" },
        h("button", {
          type: "button",
          class: "primary",
          "aria-label": `Keep this one: ${member.video.path}`,
          onclick: () => this.act(status, `Keep ${member.video.path}?`,
            `The files of the ${others(member).length} other videos of this group move to the`
            + " library's trash (.trash); they can be restored until the trash is purged.",
            "Keep this one, trash the others", others(member), "trash"),
        }, "Keep this one"),
        h("button", {
          type: "button",
          "aria-label": `Move to trash: ${member.video.path}`,
          onclick: () => this.act(status, "Move the file to the trash?",
            `${member.video.path} moves to the library's trash (.trash).`,
            "Move to trash", [member], "trash"),
        }, "Move to trash"),
        h("button", {
          type: "button",
          class: "danger",
          "aria-label": `Delete: ${member.video.path}`,
          onclick: () => this.act(status, "Delete the record?",
            `${member.video.path} is marked deleted; its file stays where it is.`,
            "Delete", [member], "delete"),
        }, "Delete")));
    return h("article", { class: "near-group", dataset: { group: g.groupId } },
      h("h3", {}, `${g.size} videos show the same pictures`),
      h("ul", { class: "near-members" }, g.members.map(card)),
      status);
  }

  /** Ask, then trash or delete each of `members`; reload when done, or say what failed. */
  async act(status, title, text, confirm, members, how) {
    if (!await confirmAction({ title, text, confirm })) return;
    const failed = [];
    for (const member of members) {
      const query = how === "trash" ? "?file=trash" : "";
      try {
        await call("DELETE", `/api/media/videos/${member.video.id}${query}`);
      } catch (error) {
        failed.push(`${member.video.path}: ${error.message}`);
      }
    }
    if (failed.length) {
      status.className = "status error";
      status.textContent = `Not done: ${failed.join("; ")}`;
      return;
    }
    const done = how === "trash" ? "moved to the trash" : "deleted";
    $("near-result").textContent = `${members.length} ${members.length === 1 ? "video" : "videos"} ${done}.`;
    await this.load(this.page);
  }
}

/** A <video> on the stream route (Range requests); its thumbnail as the poster. */
function player(video) {
  return h("video", {
    class: "near-player",
    src: video.streamUrl,
    poster: video.thumbnailUrl,
    controls: true,
    preload: "none",
    "aria-label": `Play ${video.path}`,
  });
}

function facts(video) {
  const size = video.width && video.height ? `${video.width}×${video.height}` : null;
  return [duration(video.durationSeconds), fileSize(video.fileSize), video.quality, size]
    .filter(Boolean).join(" · ");
}

/** "Matches the keeper: 85% · 34 s · its 0:06–0:40 at this 0:00–0:34 · mirrored". */
function explain(match) {
  if (!match) return "Matches the keeper only through another member of the group";
  const parts = [
    `${Math.round(match.score * 100)}% of the shorter video`,
    `${match.matchedSeconds} s matched`,
    `keeper ${duration(match.a.start)}–${duration(match.a.end)}`
      + ` at this ${duration(match.b.start)}–${duration(match.b.end)}`,
  ];
  if (match.offsetSeconds) parts.push(`offset ${match.offsetSeconds > 0 ? "+" : ""}${match.offsetSeconds} s`);
  if (match.mirrored) parts.push("mirrored");
  return `Matches the keeper: ${parts.join(" · ")}`;
}
