// A row's "Move to trash": the file goes to the library's trash (restorable), the record
// says so. Kept apart from library.js: the view only wires the handler.

import { call } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { displayTitle } from "./format.js";

/** Ask, then trash the video's file; true when it went. `onError(text)` shows why not. */
export async function trashFile(video, onError) {
  const ok = await confirmAction({
    title: "Move the file to the trash?",
    text: `The file of “${displayTitle(video)}” moves to the library's trash (.trash) and the`
      + " video leaves this list. Restore brings it back from Show invalid until the trash"
      + " is purged.",
    confirm: "Move to trash",
  });
  if (!ok) return false;
  try {
    await call("DELETE", `/api/media/videos/${video.id}?file=trash`);
    return true;
  } catch (error) {
    onError(error.message);
    return false;
  }
}

/** The reason line of a trashed video: where its file was. */
export function trashedText(video) {
  return `In the trash (from ${video.trashedFrom})`;
}
