// The clean-up view: invalid videos by reason and age, listed first (a dry run that changes
// nothing), then their files moved to the trash and their records dropped, with a report.
// The server checks each listed record again and skips those changed since the list.

import { call, queryString } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { date, fileSize, h } from "./format.js";

const $ = (id) => document.getElementById(id);

export class Cleanup {
  constructor(showError) {
    this.showError = showError;
    this.listing = null; // the last dry run, applied as seen
    $("cleanup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.list();
    });
    $("cleanup-apply").addEventListener("click", () => this.apply());
  }

  selection() {
    const form = $("cleanup-form");
    const reasons = [...form.querySelectorAll("input[name=reason]:checked")].map((i) => i.value);
    return { reasons, olderThanDays: Number(form.elements.olderThanDays.value || 0) };
  }

  showProblem(message) {
    $("cleanup-error").hidden = !message;
    $("cleanup-error").textContent = message || "";
  }

  async list() {
    const { reasons, olderThanDays } = this.selection();
    this.showProblem(null);
    this.listing = null;
    $("cleanup-apply").hidden = true;
    if (!reasons.length) {
      this.showProblem("Choose at least one reason.");
      return;
    }
    try {
      this.listing = await call("GET", `/api/media/cleanup${queryString({
        reasons: reasons.join(","), olderThanDays,
      })}`);
    } catch (error) {
      this.showProblem(error.message);
      return;
    }
    const { data, count, totalBytes } = this.listing;
    $("cleanup-rows").replaceChildren(...data.map(candidateRow));
    $("cleanup-table").hidden = count === 0;
    $("cleanup-summary").textContent = count
      ? `Dry run: ${count} videos, ${fileSize(totalBytes)}. Nothing has changed yet.`
      : "No invalid videos match.";
    $("cleanup-apply").hidden = count === 0;
  }

  async apply() {
    if (!this.listing?.count) return;
    const { reasons, olderThanDays } = this.selection();
    const ok = await confirmAction({
      title: "Clean up these videos?",
      text: `The files of ${this.listing.count} videos move to the trash and their records`
        + " are dropped. A video changed since the list is left alone.",
      confirm: "Move to trash and drop",
    });
    if (!ok) return;
    const items = this.listing.data.map((c) => ({ id: c.video.id, updatedAt: c.video.updatedAt }));
    let report;
    try {
      report = await call("POST", "/api/media/cleanup", { reasons, olderThanDays, items });
    } catch (error) {
      this.showProblem(error.message);
      return;
    }
    this.listing = null;
    $("cleanup-apply").hidden = true;
    $("cleanup-table").hidden = true;
    $("cleanup-summary").textContent = `Moved ${report.trashed} files to the trash`
      + ` (${fileSize(report.trashedBytes)}), dropped ${report.dropped} records without a file,`
      + ` skipped ${report.skipped}, failed ${report.failed}.`;
    $("cleanup-report").replaceChildren(...report.items.map(reportLine));
  }
}

function candidateRow(candidate) {
  const { video } = candidate;
  return h("tr", { dataset: { id: video.id } },
    h("td", { "data-label": "Reason" }, video.invalidReason),
    h("td", { "data-label": "Path" }, video.path),
    h("td", { "data-label": "Invalid since" },
      h("time", { datetime: video.updatedAt }, date(video.updatedAt))),
    h("td", { "data-label": "On disk" }, candidate.onDisk ? "yes" : "no"),
    h("td", { "data-label": "Size", class: "num" }, fileSize(candidate.size)));
}

function reportLine(item) {
  const ok = item.outcome === "trashed" || item.outcome === "dropped";
  const text = item.outcome === "trashed" ? `${item.path} → ${item.trashPath}`
    : item.outcome === "dropped" ? `${item.path}: record dropped (no file)`
      : `${item.id}: ${item.outcome}: ${item.reason}`;
  return h("li", { class: ok ? "ok" : "fail" }, text);
}
