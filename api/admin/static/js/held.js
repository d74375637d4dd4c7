// The mount guard's banner: the library not mounted, or passes held back from marking
// records missing (issue 11 §1), each with a button that applies it.

import { call } from "./api.js";
import { h } from "./format.js";

const $ = (id) => document.getElementById(id);

export class HeldBanner {
  constructor(onApplied) {
    this.onApplied = onApplied;
  }

  async load() {
    const box = $("held");
    try {
      const state = await call("GET", "/api/media/library/held-passes");
      const lines = [];
      if (!state.libraryMounted) {
        lines.push(h("p", { class: "held-line" },
          `The library is not mounted: ${state.libraryReason} Nothing is marked missing.`));
      }
      for (const held of state.heldPasses) lines.push(this.line(held));
      box.replaceChildren(...lines);
      box.hidden = lines.length === 0;
    } catch (error) {
      box.replaceChildren(h("p", { class: "held-line" }, `Held passes: ${error.message}`));
      box.hidden = false;
    }
  }

  line(held) {
    const button = h("button", {
      type: "button",
      class: "primary",
      dataset: { applyMissing: held.directoryType },
      onclick: () => this.apply(held.directoryType, button),
    }, `Mark ${held.missing} missing in ${held.directoryType}`);
    return h("p", { class: "held-line" },
      `${held.directoryType}: ${held.missing} of ${held.records} records held back (${held.reason}). `,
      button);
  }

  async apply(directoryType, button) {
    button.disabled = true;
    try {
      const result = await call(
        "POST", "/api/media/library/held-passes/apply", { directoryType },
      );
      $("held-result").textContent =
        `${directoryType}: ${result.missing} records marked missing.`;
      await this.load();
      this.onApplied?.();
    } catch (error) {
      $("held-result").textContent = `${directoryType}: ${error.message}`;
      button.disabled = false;
    }
  }
}
