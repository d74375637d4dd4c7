// The integrity view: files whose hash changed while size and mtime did not, with the
// admin's two actions. Both hash the file again on the server first, so a stale list
// never acts on a file that changed since; a refusal says what the re-check found.

import { call, queryString } from "./api.js";
import { dateTime, fileSize, h } from "./format.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 20;

export class Integrity {
  constructor(showError) {
    this.showError = showError;
    this.page = 1;
    this.totalPages = 0;
    $("integrity-prev").addEventListener("click", () => this.load(this.page - 1));
    $("integrity-next").addEventListener("click", () => this.load(this.page + 1));
    $("integrity-status").addEventListener("change", () => this.load(1));
  }

  get status() {
    return $("integrity-status").value;
  }

  async load(page = 1) {
    const box = $("integrity-findings");
    box.setAttribute("aria-busy", "true");
    $("integrity-export").href = `/api/media/integrity/findings.csv${queryString({ status: this.status })}`;
    try {
      const [summary, result] = await Promise.all([
        call("GET", "/api/media/integrity"),
        call("GET", `/api/media/integrity/findings${queryString({ status: this.status, page, limit: LIMIT })}`),
      ]);
      this.page = result.pagination.page;
      this.totalPages = result.pagination.totalPages;
      this.showError(null);
      $("integrity-summary").textContent = summaryText(summary);
      box.replaceChildren(...(result.data.length
        ? result.data.map((f) => this.row(f))
        : [h("p", { class: "empty" }, this.status === "open"
          ? "No open findings: every verified file matches its recorded hash."
          : "No findings of this kind.")]));
      $("integrity-info").textContent = `Page ${this.page} of ${Math.max(this.totalPages, 1)}`
        + ` · ${result.pagination.total} findings`;
      $("integrity-prev").disabled = this.page <= 1;
      $("integrity-next").disabled = this.page >= this.totalPages;
    } catch (error) {
      box.replaceChildren(h("p", { class: "error" }, `Could not load findings: ${error.message}`));
      if (error.status !== 401) this.showError(error, () => this.load(page));
    } finally {
      box.removeAttribute("aria-busy");
    }
  }

  row(finding) {
    const note = h("p", { class: "finding-note", role: "status" });
    const actions = finding.status === "open"
      ? [
        this.action("Re-check", "recheck", finding, note),
        this.action("Accept new hash", "accept", finding, note),
      ]
      : [h("span", { class: "muted" },
        `${finding.status} ${dateTime(finding.resolvedAt)} by ${finding.resolvedBy || "?"}`)];
    return h("article", { class: "finding", "data-id": finding.id },
      h("h3", {}, h("code", {}, finding.path)),
      h("dl", { class: "finding-facts" },
        h("dt", {}, "Recorded hash"), h("dd", {}, h("code", {}, finding.recordedHash)),
        h("dt", {}, "Hash now"), h("dd", {}, h("code", {}, finding.observedHash)),
        h("dt", {}, "Size"), h("dd", {}, fileSize(finding.fileSize)),
        h("dt", {}, "Found"), h("dd", {}, dateTime(finding.foundAt)),
        h("dt", {}, "Last seen"), h("dd", {}, dateTime(finding.lastSeenAt))),
      h("div", { class: "finding-actions" }, ...actions),
      note);
  }

  action(label, verb, finding, note) {
    const button = h("button", { type: "button" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const done = await call("POST", `/api/media/integrity/findings/${finding.id}/${verb}`);
        note.textContent = OUTCOMES[done.outcome] || done.outcome;
        await this.load(this.page);
      } catch (error) {
        // A refusal (409) is the re-check's answer, not a fault: show it by the finding,
        // then reload, as the finding may have been updated or closed by it.
        if (error.status === 409) {
          await this.load(this.page);
          const again = document.querySelector(`.finding[data-id="${finding.id}"] .finding-note`);
          (again || $("integrity-summary")).textContent = error.message;
        } else {
          note.textContent = error.message;
          button.disabled = false;
        }
      }
    });
    return button;
  }
}

const OUTCOMES = {
  accepted: "New hash recorded.",
  intact: "The file matches its recorded hash again; finding closed.",
  superseded: "The file was edited since; finding closed, it is re-probed as an edit.",
  still_mismatch: "Still different from the recorded hash.",
};

function summaryText(summary) {
  const last = summary.lastFullCycleAt ? dateTime(summary.lastFullCycleAt) : "none yet";
  const cycle = summary.cycleInProgress ? " · a cycle is under way" : "";
  return `${summary.openFindings} open · last full verification: ${last}${cycle}`;
}
