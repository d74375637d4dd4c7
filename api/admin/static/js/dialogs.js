// The dialogs: confirm, edit (with tag suggestions), bulk edit, progress, scan.
// Native <dialog>: focus moves in, Escape closes, focus returns to the opener.

import { call, queryString } from "./api.js";
import { DIRECTORY_TYPES, displayTitle, h, parseTags, tagsText } from "./format.js";

const $ = (id) => document.getElementById(id);

function open(dialog) {
  const opener = document.activeElement;
  dialog.addEventListener("close", () => opener?.focus?.(), { once: true });
  dialog.showModal();
}

function showError(element, error) {
  element.hidden = !error;
  element.textContent = error ? error.message || String(error) : "";
}

for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

/** Ask; resolves true when confirmed. */
export function confirmAction({ title, text, confirm = "Delete" }) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = confirm;
  dialog.returnValue = "no";
  open(dialog);
  $("confirm-no").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

/** Empty inputs become null (the API clears the field). */
function textOrNull(value) {
  const text = value.trim();
  return text === "" ? null : text;
}

let suggestTimer = null;

async function suggestTags(input, list) {
  const words = input.value.split(",");
  const prefix = words[words.length - 1].trim();
  let data = [];
  try {
    ({ data } = await call("GET", `/api/media/tags${queryString({ prefix, limit: 8 })}`));
  } catch {
    return; // suggestions are a help, not a requirement
  }
  const present = new Set(parseTags(input.value));
  list.replaceChildren(...data.filter((t) => !present.has(t.tag)).map((t) => h("button", {
    type: "button",
    class: "chip",
    "aria-label": `Add tag ${t.tag} (${t.count} videos)`,
    onclick: () => {
      words[words.length - 1] = ` ${t.tag}`;
      input.value = `${words.join(",").replace(/^\s+/, "")}, `;
      input.focus();
      suggestTags(input, list);
    },
  }, `${t.tag} (${t.count})`)));
}

/** Edit one video; resolves with the saved video, or null when cancelled. */
export function editVideo(video) {
  const dialog = $("edit-dialog");
  const form = $("edit-form");
  const tags = $("edit-tags");
  const list = $("edit-suggestions");
  $("edit-file").textContent = video.path;
  form.elements.producer.value = video.producer || "";
  form.elements.creator.value = video.creator || "";
  form.elements.title.value = video.title || "";
  tags.value = tagsText(video.tags);
  showError($("edit-error"), null);
  list.replaceChildren();
  tags.oninput = () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => suggestTags(tags, list), 200);
  };
  suggestTags(tags, list);
  open(dialog);
  return new Promise((resolve) => {
    let saved = null;
    form.onsubmit = async (event) => {
      event.preventDefault();
      $("edit-save").disabled = true;
      try {
        saved = await call("PUT", `/api/media/videos/${video.id}`, {
          producer: textOrNull(form.elements.producer.value),
          creator: textOrNull(form.elements.creator.value),
          title: textOrNull(form.elements.title.value),
          tags: parseTags(tags.value),
        });
        dialog.close();
      } catch (error) {
        showError($("edit-error"), error);
      } finally {
        $("edit-save").disabled = false;
      }
    };
    dialog.addEventListener("close", () => resolve(saved), { once: true });
  });
}

/** Ask for the fields to set on several videos; resolves with them, or null. */
export function bulkFields(count) {
  const dialog = $("bulk-dialog");
  const form = $("bulk-form");
  form.reset();
  $("bulk-count").textContent = `${count} videos selected.`;
  showError($("bulk-error"), null);
  open(dialog);
  return new Promise((resolve) => {
    let fields = null;
    form.onsubmit = (event) => {
      event.preventDefault();
      const set = {};
      for (const name of ["producer", "creator"]) {
        const value = textOrNull(form.elements[name].value);
        if (value !== null) set[name] = value;
      }
      if (form.elements.tags.value.trim()) set.tags = parseTags(form.elements.tags.value);
      if (!Object.keys(set).length) {
        showError($("bulk-error"), new Error("Fill in at least one field."));
        return;
      }
      fields = set;
      dialog.close();
    };
    dialog.addEventListener("close", () => resolve(fields), { once: true });
  });
}

/** A progress dialog for work on many videos: call `step` after each, `finish` at the end. */
export function progressView(title, total) {
  const dialog = $("progress-dialog");
  const bar = $("progress-bar");
  const list = $("progress-list");
  $("progress-title").textContent = title;
  bar.max = Math.max(total, 1);
  bar.value = 0;
  list.replaceChildren();
  $("progress-close").disabled = true;
  $("progress-text").textContent = `0 of ${total}`;
  open(dialog);
  let done = 0;
  let failed = 0;
  return {
    step(video, ok, text) {
      done += 1;
      failed += ok ? 0 : 1;
      bar.value = done;
      $("progress-text").textContent = `${done} of ${total}${failed ? `, ${failed} failed` : ""}`;
      list.append(h("li", { class: ok ? "ok" : "fail" },
        `${video ? displayTitle(video) : "?"}: ${text}`));
    },
    finish() {
      $("progress-text").textContent = `Done: ${done - failed} succeeded, ${failed} failed.`;
      $("progress-close").disabled = false;
      $("progress-close").focus();
      return new Promise((resolve) => {
        if (!dialog.open) resolve();
        else dialog.addEventListener("close", () => resolve(), { once: true });
      });
    },
  };
}

const COUNT_LABELS = [
  ["scanned", "Files scanned"], ["created", "New records created"],
  ["updated", "Updated"], ["skipped", "Skipped (already in DB)"], ["moved", "Moved"],
  ["missing", "Marked missing"], ["failed", "Failed"],
];

function renderScan(job) {
  const result = job.result || {};
  $("scan-counts").replaceChildren(...COUNT_LABELS.filter(([key]) => key in result).flatMap(
    ([key, label]) => [h("dt", {}, label), h("dd", { class: key }, result[key])],
  ));
  $("scan-errors").replaceChildren(...(result.errors || []).map((e) => h("li", {}, e)));
  const bar = $("scan-bar");
  const total = result.total || result.scanned;
  const done = ["created", "updated", "skipped", "failed"]
    .reduce((sum, key) => sum + (result[key] || 0), 0);
  if (job.status === "running" && total) {
    bar.max = total;
    bar.value = Math.min(done, total);
  } else if (job.status === "running") {
    bar.removeAttribute("value"); // indeterminate until the walk has counted the files
  } else {
    bar.max = 1;
    bar.value = 1;
  }
  const seconds = job.finishedAt
    ? ((new Date(job.finishedAt) - new Date(job.createdAt)) / 1000).toFixed(1) : null;
  $("scan-state").textContent = job.status === "running"
    ? `Scanning ${job.directoryTypes.join(", ")}…`
    : job.status === "succeeded"
      ? `Scan complete in ${seconds} seconds`
      : `Scan ${job.status}${job.error ? `: ${job.error}` : ""}`;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

let scanShown = 0; // which opening of the dialog a poll belongs to

async function followScan(jobId, opening) {
  for (;;) {
    const job = await call("GET", `/api/media/scans/${jobId}`);
    if (opening !== scanShown) return job; // closed and reopened: a newer scan owns the view
    renderScan(job);
    if (job.status !== "running") return job;
    await sleep(500);
  }
}

/** The scan dialog; resolves when it closes (true if a scan ran: refresh the table). */
export function scanDialog(defaultType) {
  const dialog = $("scan-dialog");
  const select = $("scan-type");
  const opening = ++scanShown;
  if (!select.options.length) {
    select.append(...DIRECTORY_TYPES.map((t) => h("option", { value: t }, t)));
  }
  select.value = defaultType || "videos";
  select.disabled = false;
  $("scan-form").elements.skipExisting.disabled = false;
  $("scan-progress").hidden = true;
  $("scan-start").hidden = false;
  $("scan-start").disabled = false;
  showError($("scan-error"), null);
  open(dialog);
  let ran = false;
  $("scan-start").onclick = async () => {
    const form = $("scan-form");
    $("scan-start").disabled = true;
    select.disabled = true;
    form.elements.skipExisting.disabled = true;
    showError($("scan-error"), null);
    try {
      const accepted = await call("POST", "/api/media/videos/scan", {
        directoryType: select.value,
        skipExisting: form.elements.skipExisting.checked,
        async: true,
      });
      ran = true;
      $("scan-progress").hidden = false;
      $("scan-start").hidden = true;
      renderScan({ status: "running", directoryTypes: [select.value], result: {} });
      await followScan(accepted.jobId, opening);
      $("scan-close").focus();
    } catch (error) {
      showError($("scan-error"), error);
      $("scan-start").disabled = false;
      select.disabled = false;
      form.elements.skipExisting.disabled = false;
    }
  };
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(ran), { once: true });
  });
}
