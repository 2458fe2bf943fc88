/// <reference lib="dom" />
/**
 * Drag and drop onto the page, folders included: dropped trees are walked
 * with the File System entries API and handed to the upload queue.
 *
 * @module
 */

import { byId, messageOf, say } from "./dom.ts";
import type { FoundFile, UploadQueue } from "./uploads.ts";

/** Shows the overlay while files are dragged over the page and uploads what is dropped. */
export function acceptDrops(queue: UploadQueue): void {
  const overlay = byId("drop-overlay", HTMLElement);
  let dragDepth = 0;
  const carriesFiles = (event: DragEvent) =>
    event.dataTransfer !== null && Array.from(event.dataTransfer.types).includes("Files");

  document.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth++;
    overlay.hidden = false;
  });
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event) || !event.dataTransfer) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) overlay.hidden = true;
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event) || !event.dataTransfer) return;
    event.preventDefault();
    dragDepth = 0;
    overlay.hidden = true;
    dropped(event.dataTransfer, queue);
  });
}

async function dropped(dataTransfer: DataTransfer, queue: UploadQueue): Promise<void> {
  const found: FoundFile[] = [];
  const folders: FileSystemDirectoryEntry[] = [];
  // Items are readable only during the event: take every entry and file before any await.
  for (const item of Array.from(dataTransfer.items)) {
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry?.() ?? null;
    if (entry !== null && isDirectoryEntry(entry)) folders.push(entry);
    else {
      const file = item.getAsFile();
      if (file) found.push({ file, names: [file.name] });
    }
  }
  const emptyFolders: string[][] = [];
  try {
    for (const folder of folders) await walk(folder, [], found, emptyFolders);
  } catch (error) {
    say(`Could not read a dropped folder: ${messageOf(error)}`, true);
  }
  queue.upload(found, emptyFolders);
}

function isDirectoryEntry(entry: FileSystemEntry): entry is FileSystemDirectoryEntry {
  return entry.isDirectory;
}

function isFileEntry(entry: FileSystemEntry): entry is FileSystemFileEntry {
  return entry.isFile;
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** Collects the files below `entry`, and the folders with nothing in them. */
async function walk(
  entry: FileSystemEntry,
  parents: readonly string[],
  found: FoundFile[],
  emptyFolders: string[][],
): Promise<void> {
  const names = [...parents, entry.name];
  if (isFileEntry(entry)) {
    found.push({ file: await entryFile(entry), names });
    return;
  }
  if (!isDirectoryEntry(entry)) return;
  const reader = entry.createReader();
  let count = 0;
  for (;;) {
    const batch = await readEntries(reader);
    if (batch.length === 0) break;
    count += batch.length;
    for (const child of batch) await walk(child, names, found, emptyFolders);
  }
  if (count === 0) emptyFolders.push(names);
}
