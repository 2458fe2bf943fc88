/// <reference lib="dom" />
/**
 * Delete, rename (or move) and new folder: `DELETE`, `MOVE` with
 * `Destination` and `Overwrite`, and `PUT <dir>/name/`, after the user's yes.
 *
 * @module
 */

import { encodePathSegment } from "../portable.ts";
import type { SortableEntry } from "../portable.ts";
import type { Dialog } from "./dialog.ts";
import { quoted, say } from "./dom.ts";
import { destinationFor, pathFor, reason, send } from "./http.ts";
import type { Listing } from "./listing.ts";

/**
 * Sent with every DELETE: a folder goes only when it is empty (409
 * otherwise), as the dialogs say; WebDAV's plain DELETE would take its tree.
 */
const EMPTY_FOLDERS_ONLY = { Depth: "0" };

/** The write actions on entries, each one request after a confirmation. */
export class EntryActions {
  constructor(private readonly listing: Listing, private readonly dialog: Dialog) {}

  /** Asks, then deletes one file or empty folder. */
  async delete(entry: SortableEntry): Promise<void> {
    const answer = await this.dialog.ask({
      title: `Delete ${quoted(entry.name)}?`,
      message: entry.isDirectory
        ? "Only an empty folder can be deleted."
        : "The file is removed from the server. This cannot be undone.",
      ok: `Delete ${entry.isDirectory ? "folder" : "file"}`,
      danger: true,
    });
    if (answer === null) return;
    const response = await send(
      "DELETE",
      pathFor([entry.name], entry.isDirectory),
      EMPTY_FOLDERS_ONLY,
    );
    if (response.ok) say(`Deleted ${quoted(entry.name)}.`);
    else if (response.status === 409) {
      say(`${quoted(entry.name)} is not empty, so it was not deleted.`, true);
    } else say(`Could not delete ${quoted(entry.name)}: ${await reason(response)}`, true);
    await this.listing.refresh();
  }

  /** Asks for a new name or path, then moves the entry there (asking again before replacing). */
  async rename(entry: SortableEntry): Promise<void> {
    const dot = entry.isDirectory ? -1 : entry.name.lastIndexOf(".");
    const typed = await this.dialog.ask({
      title: `Rename ${quoted(entry.name)}`,
      message: "Type a new name. A path such as ../other/name or /top/name moves it.",
      value: entry.name,
      selectEnd: dot > 0 ? dot : undefined,
      ok: "Rename",
    });
    if (typed === null || typed.trim() === "" || typed === entry.name) return;
    const destination = destinationFor(typed.trim(), entry.isDirectory);
    if (destination === null) return say("That is not a name a file can have.", true);
    const source = pathFor([entry.name], entry.isDirectory);
    let response = await send("MOVE", source, { Destination: destination, Overwrite: "F" });
    if (response.status === 412) {
      const replace = await this.dialog.ask({
        title: `Replace ${quoted(decodeURIComponent(destination))}?`,
        message: "Something with that name already exists. Replacing it cannot be undone.",
        ok: "Replace",
        danger: true,
      });
      if (replace === null) return;
      response = await send("MOVE", source, { Destination: destination, Overwrite: "T" });
    }
    if (response.ok) say(`Renamed ${quoted(entry.name)} to ${quoted(typed.trim())}.`);
    else say(`Could not rename ${quoted(entry.name)}: ${await reason(response)}`, true);
    await this.listing.refresh();
  }

  /** Asks once, then deletes each entry (`DELETE`, one by one); says what failed. */
  async deleteMany(entries: SortableEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const answer = await this.dialog.ask({
      title: `Delete ${countOf(entries)}?`,
      message: "Files are removed from the server; only empty folders can be deleted. " +
        "This cannot be undone.",
      ok: "Delete",
      danger: true,
    });
    if (answer === null) return;
    const failed: string[] = [];
    for (const entry of entries) {
      const response = await send(
        "DELETE",
        pathFor([entry.name], entry.isDirectory),
        EMPTY_FOLDERS_ONLY,
      );
      if (!response.ok) failed.push(`${quoted(entry.name)} (${await reason(response)})`);
    }
    this.#report("Deleted", entries.length, failed);
    await this.listing.refresh();
  }

  /**
   * Asks for a folder, then moves each entry into it (`MOVE` with
   * `Overwrite: F`: nothing there is replaced); says what failed.
   */
  async moveMany(entries: SortableEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const typed = await this.dialog.ask({
      title: `Move ${countOf(entries)} to a folder`,
      message: "A folder relative to this one (such as ../other) or from the top (/top/folder). " +
        "Nothing there is replaced.",
      value: "",
      ok: "Move",
    });
    if (typed === null || typed.trim() === "") return;
    const folder = destinationFor(typed.trim(), true);
    if (folder === null) return say("That is not a folder a file can go to.", true);
    const failed: string[] = [];
    for (const entry of entries) {
      const destination = folder + encodePathSegment(entry.name) + (entry.isDirectory ? "/" : "");
      const response = await send("MOVE", pathFor([entry.name], entry.isDirectory), {
        Destination: destination,
        Overwrite: "F",
      });
      if (response.status === 412) failed.push(`${quoted(entry.name)} (already there)`);
      else if (!response.ok) failed.push(`${quoted(entry.name)} (${await reason(response)})`);
    }
    this.#report("Moved", entries.length, failed);
    await this.listing.refresh();
  }

  #report(done: string, total: number, failed: string[]): void {
    const succeeded = total - failed.length;
    if (failed.length === 0) say(`${done} ${succeeded} item${succeeded === 1 ? "" : "s"}.`);
    else {
      say(
        `${done} ${succeeded} of ${total}. Not done: ${failed.join(", ")}.`,
        true,
      );
    }
  }

  /** Asks for a name, then creates the folder (and its parents). */
  async makeFolder(): Promise<void> {
    const typed = await this.dialog.ask({ title: "New folder", value: "", ok: "Create folder" });
    if (typed === null) return;
    const names = typed.split("/").filter((name) => name.trim() !== "");
    if (names.length === 0) return;
    const shown = quoted(names.join("/"));
    const response = await send("PUT", pathFor(names, true), {}, "");
    if (response.status === 201) say(`Created folder ${shown}.`);
    else if (response.ok) say(`The folder ${shown} already exists.`);
    else say(`Could not create ${shown}: ${await reason(response)}`, true);
    await this.listing.refresh();
  }
}

/** "3 items", "“a.txt”" for one. */
function countOf(entries: readonly SortableEntry[]): string {
  return entries.length === 1 ? quoted(entries[0].name) : `${entries.length} items`;
}
