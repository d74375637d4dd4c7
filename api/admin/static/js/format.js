// Pure formatting of video fields for the table, and a small element builder.

export const DIRECTORY_TYPES = [
  "studios", "gifs", "private", "inbox", "curated", "playback", "compilations", "videos",
  "highlights",
];

/** 75 -> "1:15"; 3725 -> "1:02:05"; null -> "–". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** 1536 -> "1.5 KB", in powers of 1024 as file managers show them. */
export function fileSize(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** An ISO timestamp as the reader's local date. */
export function date(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleDateString(undefined, {
    year: "numeric", month: "short", day: "numeric",
  });
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

export function displayTitle(video) {
  return video.title || video.filename;
}

/** "producer • creator", leaving out the missing one. */
export function byline(video) {
  return [video.producer, video.creator].filter(Boolean).join(" • ");
}

export function tagsText(tags) {
  return (tags || []).join(", ");
}

/** "a, b ,, c" -> ["a", "b", "c"], duplicates dropped. */
export function parseTags(text) {
  const tags = text.split(",").map((tag) => tag.trim()).filter(Boolean);
  return [...new Set(tags)];
}

/** h("td", {class: "x", onclick: f}, "text", child): an element, children as text or nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}
