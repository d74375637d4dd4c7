// The duplicates view: groups of valid videos sharing a file hash, with paths and sizes.

import { call, queryString } from "./api.js";
import { date, displayTitle, fileSize, h } from "./format.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 20;

export class Duplicates {
  constructor(showError) {
    this.showError = showError;
    this.page = 1;
    this.totalPages = 0;
    $("dup-prev").addEventListener("click", () => this.load(this.page - 1));
    $("dup-next").addEventListener("click", () => this.load(this.page + 1));
  }

  async load(page = 1) {
    const box = $("duplicate-groups");
    box.setAttribute("aria-busy", "true");
    box.replaceChildren(h("p", { class: "muted" }, "Loading duplicates…"));
    try {
      const result = await call(
        "GET", `/api/media/videos/duplicates${queryString({ page, limit: LIMIT })}`,
      );
      this.page = result.pagination.page;
      this.totalPages = result.pagination.totalPages;
      this.showError(null);
      box.replaceChildren(...(result.data.length
        ? result.data.map(group)
        : [h("p", { class: "empty" }, "No duplicates: every valid file is unique.")]));
      $("dup-info").textContent = `Page ${this.page} of ${Math.max(this.totalPages, 1)}`
        + ` · ${result.pagination.total} groups`;
      $("dup-prev").disabled = this.page <= 1;
      $("dup-next").disabled = this.page >= this.totalPages;
    } catch (error) {
      box.replaceChildren(h("p", { class: "error" }, `Could not load duplicates: ${error.message}`));
      if (error.status !== 401) this.showError(error, () => this.load(page));
    } finally {
      box.removeAttribute("aria-busy");
    }
  }
}

function group(g) {
  return h("article", { class: "dup-group" },
    h("h3", {},
      `${g.copies} copies · ${fileSize(g.fileSize)} each · ${fileSize(g.wastedBytes)} wasted`),
    h("p", { class: "hash muted" }, h("code", {}, g.fileHash)),
    h("table", { class: "dup-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Path"), h("th", { scope: "col" }, "Title"),
        h("th", { scope: "col" }, "Size"), h("th", { scope: "col" }, "Created"))),
      h("tbody", {}, g.videos.map((v) => h("tr", {},
        h("td", { "data-label": "Path" }, h("code", {}, v.path)),
        h("td", { "data-label": "Title" }, displayTitle(v)),
        h("td", { "data-label": "Size", class: "num" }, fileSize(v.fileSize)),
        h("td", { "data-label": "Created" }, date(v.createdAt)))))));
}
