// The library view: filters, table, sorting, paging, selection, row and bulk actions.
// The server pages and filters; the browser holds one page of rows at a time.

import { call, queryString } from "./api.js";
import {
  bulkFields, confirmAction, editVideo, progressView, scanDialog,
} from "./dialogs.js";
import { DIRECTORY_TYPES, displayTitle, h } from "./format.js";
import { showDetail } from "./detail.js";
import { showHistory } from "./history.js";
import { messageRow, showRowResult, videoRow } from "./rows.js";
import { listParams, pushState } from "./state.js";
import { trashFile } from "./trash.js";

const $ = (id) => document.getElementById(id);
const CHUNK = 5; // videos per bulk validate request: progress moves, requests stay few

export class Library {
  constructor(state, showError) {
    this.state = state;
    this.showError = showError;
    this.videos = new Map(); // id -> video, of the page shown
    this.selected = new Map(); // id -> video, across pages
    this.pagination = null;
    this.loadToken = 0;
    this.searchTimer = null;
    this.handlers = {
      edit: (video) => this.edit(video),
      validate: (video) => this.validate(video),
      remove: (video) => this.remove(video),
      restore: (video) => this.restore(video),
      purge: (video) => this.purge([video]),
      trash: async (video) => {
        const failed = (text) => showRowResult(this.rowOf(video.id), false, text);
        if (await trashFile(video, failed)) await this.load();
      },
      history: (video) => showHistory(video).catch((error) => this.showError(error)),
      watch: (video) => showDetail(video),
    };
    this.bind();
  }

  bind() {
    const typeSelect = $("filter-type");
    typeSelect.append(...DIRECTORY_TYPES.map((t) => h("option", { value: t }, t)));
    const form = $("filters");
    form.addEventListener("change", (event) => {
      if (event.target.name === "search") return;
      this.setFilters(this.readFilters());
    });
    form.addEventListener("input", (event) => {
      if (event.target.name !== "search") return;
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.setFilters(this.readFilters()), 300);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.searchTimer);
      this.setFilters(this.readFilters());
    });
    for (const th of document.querySelectorAll("#videos th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => this.sortBy(th.dataset.sort));
    }
    $("page-prev").addEventListener("click", () => this.step(-1));
    $("page-next").addEventListener("click", () => this.step(1));
    $("page-limit").addEventListener("change", (event) => {
      this.update({ limit: Number(event.target.value), page: 1, cursor: "" });
    });
    $("select-page").addEventListener("change", (event) => {
      for (const video of this.videos.values()) this.select(video, event.target.checked);
      this.render();
    });
    $("scan-open").addEventListener("click", async () => {
      if (await scanDialog(this.state.directoryType)) this.load();
    });
    $("bulk-edit").addEventListener("click", () => this.bulkEdit());
    $("bulk-validate").addEventListener("click", () => this.bulkValidate());
    $("bulk-purge").addEventListener("click", () => this.purge([...this.selected.values()]));
    $("bulk-clear").addEventListener("click", () => {
      this.selected.clear();
      this.render();
    });
  }

  readFilters() {
    const form = $("filters");
    return {
      directoryType: form.elements.directoryType.value,
      orientation: form.querySelector("input[name=orientation]:checked")?.value || "",
      quality: [...form.querySelectorAll("input[name=quality]:checked")].map((i) => i.value),
      search: form.elements.search.value,
      invalid: form.elements.invalid.checked,
    };
  }

  /** Put the state's values in the controls (after a reload or Back). */
  showFilters() {
    const form = $("filters");
    const { state } = this;
    form.elements.directoryType.value = state.directoryType;
    for (const radio of form.querySelectorAll("input[name=orientation]")) {
      radio.checked = radio.value === state.orientation;
    }
    for (const box of form.querySelectorAll("input[name=quality]")) {
      box.checked = state.quality.includes(box.value);
    }
    if (form.elements.search !== document.activeElement) form.elements.search.value = state.search;
    form.elements.invalid.checked = state.invalid;
    $("page-limit").value = String(state.limit);
    for (const th of document.querySelectorAll("#videos th[data-sort]")) {
      const key = th.dataset.sort;
      const direction = state.sort === key ? "ascending"
        : state.sort === `-${key}` ? "descending" : null;
      if (direction) th.setAttribute("aria-sort", direction);
      else th.removeAttribute("aria-sort");
    }
    $("bulk-purge").hidden = !state.invalid;
  }

  setFilters(filters) {
    if (filters.invalid !== this.state.invalid) this.selected.clear();
    this.update({ ...filters, page: 1, cursor: "" });
  }

  sortBy(key) {
    const { sort } = this.state;
    // A new column starts with its natural order: newest, longest, largest first.
    let next = key === "title" ? key : `-${key}`;
    if (sort === key) next = `-${key}`;
    else if (sort === `-${key}`) next = key;
    this.update({ sort: next, page: 1, cursor: "" });
  }

  goTo(page) {
    if (page < 1 || (this.pagination && page > Math.max(this.pagination.totalPages, 1))) return;
    this.update({ page, cursor: "" });
  }

  /** Next (+1) or Previous (-1): by the page's cursor (the same cost at any depth), by
   * number when the page has none (an error, or a page past the end). */
  step(by) {
    const cursor = by > 0 ? this.pagination?.nextCursor : this.pagination?.prevCursor;
    if (cursor) this.update({ page: Math.max(this.state.page + by, 1), cursor });
    else this.goTo(this.state.page + by);
  }

  update(changes) {
    Object.assign(this.state, changes);
    pushState(this.state);
    this.load();
  }

  async load() {
    this.showFilters();
    const token = ++this.loadToken;
    const table = $("videos");
    table.setAttribute("aria-busy", "true");
    if (!this.videos.size) $("rows").replaceChildren(messageRow("Loading videos…"));
    $("status").textContent = "Loading…";
    try {
      const page = await call("GET", `/api/media/videos${queryString(listParams(this.state))}`);
      if (token !== this.loadToken) return; // a newer load started meanwhile
      this.videos = new Map(page.data.map((video) => [video.id, video]));
      this.pagination = page.pagination;
      if (this.state.cursor && !page.pagination.prevCursor && this.state.page !== 1) {
        // Rows came or went since the count began: nothing before this page, so it is 1.
        this.state.page = 1;
        pushState(this.state, { replace: true });
      }
      this.showError(null);
      this.render();
    } catch (error) {
      if (token !== this.loadToken) return;
      this.videos.clear();
      $("rows").replaceChildren(messageRow(`Could not load videos: ${error.message}`));
      $("status").textContent = "";
      if (error.status !== 401) this.showError(error, () => this.load());
    } finally {
      if (token === this.loadToken) table.removeAttribute("aria-busy");
    }
  }

  render() {
    const rows = [...this.videos.values()].map((video) => this.row(video));
    if (!rows.length) {
      const clear = h("button", {
        type: "button",
        class: "quiet",
        onclick: () => {
          $("filters").reset();
          this.setFilters({ ...this.readFilters(), invalid: this.state.invalid });
        },
      }, "Clear filters");
      const text = this.state.invalid ? "No invalid videos match." : "No videos match these filters.";
      rows.push(messageRow(text, " ", clear));
    }
    $("rows").replaceChildren(...rows);
    const { totalPages, total, nextCursor, prevCursor } = this.pagination
      || { totalPages: 0, total: 0, nextCursor: null, prevCursor: null };
    const { page } = this.state; // a cursor page has no number from the API: ours counts
    $("page-info").textContent = `Page ${page} of ${Math.max(totalPages, 1)} · ${total} videos`;
    $("page-prev").disabled = !prevCursor && page <= 1;
    $("page-next").disabled = !nextCursor;
    $("status").textContent = `${total} ${this.state.invalid ? "invalid " : ""}videos`;
    const onPage = [...this.videos.keys()];
    const ticked = onPage.filter((id) => this.selected.has(id)).length;
    $("select-page").checked = onPage.length > 0 && ticked === onPage.length;
    $("select-page").indeterminate = ticked > 0 && ticked < onPage.length;
    $("bulkbar").hidden = this.selected.size === 0;
    $("selected-count").textContent = `${this.selected.size} selected`;
  }

  row(video) {
    return videoRow(video, {
      selected: this.selected.has(video.id),
      onSelect: (v, on) => {
        this.select(v, on);
        this.render();
      },
      handlers: this.handlers,
    });
  }

  select(video, on) {
    if (on) this.selected.set(video.id, video);
    else this.selected.delete(video.id);
  }

  rowOf(id) {
    return document.querySelector(`#rows tr[data-id="${CSS.escape(id)}"]`);
  }

  /** Show a changed video in place, keeping the row's result line when asked. */
  replace(video, result) {
    this.videos.set(video.id, video);
    if (this.selected.has(video.id)) this.selected.set(video.id, video);
    const old = this.rowOf(video.id);
    if (!old) return;
    const row = this.row(video);
    old.replaceWith(row);
    if (result) showRowResult(row, result.ok, result.text);
  }

  async edit(video) {
    const saved = await editVideo(video);
    if (saved) {
      this.replace(saved, { ok: true, text: "Saved" });
      $("status").textContent = `Saved ${displayTitle(saved)}`;
    }
  }

  async validate(video) {
    showRowResult(this.rowOf(video.id), true, "Validating…");
    try {
      const result = await call("POST", `/api/media/videos/${video.id}/validate`);
      const fresh = await call("GET", `/api/media/videos/${video.id}`);
      const text = result.isValid ? "Valid ✓" : `Invalid: ${result.invalidReason}`;
      this.replace(fresh, { ok: result.isValid, text });
    } catch (error) {
      if (error.status !== 422) {
        showRowResult(this.rowOf(video.id), false, `Validation failed: ${error.message}`);
        return;
      }
      // 422: the file is not a readable video; the API has recorded it invalid.
      const fresh = await call("GET", `/api/media/videos/${video.id}`).catch(() => null);
      const reason = fresh?.invalidReason || "corrupt";
      if (fresh) this.replace(fresh, { ok: false, text: `Invalid: ${reason}` });
      else showRowResult(this.rowOf(video.id), false, `Invalid: ${error.message}`);
    }
  }

  async remove(video) {
    const ok = await confirmAction({
      title: "Delete video?",
      text: `“${displayTitle(video)}” is marked invalid and leaves this list. The file stays on`
        + " disk; you can restore it from Show invalid.",
    });
    if (!ok) return;
    await this.act(() => call("DELETE", `/api/media/videos/${video.id}`),
      `Deleted ${displayTitle(video)}`);
  }

  async restore(video) {
    try {
      const restored = await call("POST", `/api/media/videos/${video.id}/restore`);
      if (restored.isValid) {
        $("status").textContent = `Restored ${displayTitle(restored)}`;
        this.selected.delete(video.id);
        await this.load();
      } else {
        this.replace(restored, { ok: false, text: `Still invalid: ${restored.invalidReason}` });
      }
    } catch (error) {
      showRowResult(this.rowOf(video.id), false, error.message);
    }
  }

  async purge(videos) {
    if (!videos.length) return;
    const name = videos.length === 1 ? `“${displayTitle(videos[0])}”` : `${videos.length} videos`;
    const first = await confirmAction({
      title: "Permanently delete?",
      text: `The database record of ${name} will be removed. Files stay on disk.`,
      confirm: "Continue",
    });
    if (!first) return;
    const second = await confirmAction({
      title: "This cannot be undone",
      text: `Really remove ${name} from the database for good?`,
      confirm: "Delete permanently",
    });
    if (!second) return;
    const view = videos.length > 1 ? progressView("Permanently deleting", videos.length) : null;
    for (const video of videos) {
      try {
        await call("DELETE", `/api/media/videos/${video.id}?permanent=true`);
        this.selected.delete(video.id);
        view?.step(video, true, "removed");
      } catch (error) {
        if (!view) showRowResult(this.rowOf(video.id), false, error.message);
        view?.step(video, false, error.message);
      }
    }
    await view?.finish();
    await this.load();
  }

  async act(action, message) {
    try {
      await action();
      $("status").textContent = message;
      await this.load();
    } catch (error) {
      this.showError(error);
    }
  }

  async bulkEdit() {
    const videos = [...this.selected.values()];
    const set = await bulkFields(videos.length);
    if (!set) return;
    try {
      const { results } = await call("POST", "/api/media/videos/bulk", {
        ids: videos.map((v) => v.id), action: "update", set,
      });
      const failed = results.filter((r) => !r.ok);
      for (const result of results) {
        if (result.video) this.replace(result.video, { ok: result.ok, text: "Updated" });
      }
      $("status").textContent = `Updated ${results.length - failed.length} videos`
        + (failed.length ? `, ${failed.length} failed` : "");
    } catch (error) {
      this.showError(error);
    }
  }

  async bulkValidate() {
    const videos = [...this.selected.values()];
    const view = progressView("Validating selected videos", videos.length);
    for (let start = 0; start < videos.length; start += CHUNK) {
      const chunk = videos.slice(start, start + CHUNK);
      try {
        const { results } = await call("POST", "/api/media/videos/bulk", {
          ids: chunk.map((v) => v.id), action: "validate",
        });
        const byId = new Map(results.map((r) => [r.id, r]));
        for (const video of chunk) {
          const result = byId.get(video.id);
          const fresh = result?.video;
          const ok = Boolean(result?.ok && (!fresh || fresh.isValid));
          const text = !result ? "no answer"
            : !result.ok ? result.error || "failed"
              : ok ? "valid" : `invalid (${fresh.invalidReason})`;
          view.step(video, ok, text);
          if (fresh) this.replace(fresh, { ok, text: ok ? "Valid ✓" : `Invalid: ${text}` });
        }
      } catch (error) {
        for (const video of chunk) view.step(video, false, error.message);
      }
    }
    await view.finish();
  }
}
