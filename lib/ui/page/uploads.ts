/// <reference lib="dom" />
/**
 * The upload queue: one row per file with progress, speed, cancel and (after
 * a 412) replace; at most three `PUT`s at a time, each first with
 * `If-None-Match: *` so nothing is replaced unasked.
 *
 * @module
 */

import { formatSize } from "../portable.ts";
import { byId, element, quoted, say } from "./dom.ts";
import { pathFor, reason, send } from "./http.ts";
import type { Listing } from "./listing.ts";

const MAX_PARALLEL_UPLOADS = 3;
/** Speed is measured over this much recent progress. */
const SPEED_WINDOW_MS = 3000;

type JobState = "queued" | "uploading" | "done" | "error" | "cancelled" | "conflict";

/** A file to upload and where, relative to the listed folder. */
export interface FoundFile {
  /** The file's bytes. */
  file: File;
  /** Its path below the listed folder, one name per level. */
  names: string[];
}

interface Job extends FoundFile {
  row: HTMLLIElement;
  bar: HTMLProgressElement;
  status: HTMLSpanElement;
  cancel: HTMLButtonElement;
  replace: HTMLButtonElement;
  state: JobState;
  overwrite: boolean;
  xhr: XMLHttpRequest | null;
}

/** The uploads panel and its queue. */
export class UploadQueue {
  readonly #panel = byId("uploads", HTMLElement);
  readonly #list = byId("upload-list", HTMLUListElement);
  readonly #summary = byId("uploads-summary", HTMLElement);
  #jobs: Job[] = [];
  #running = 0;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly listing: Listing, private readonly hideDotfiles: boolean) {
    byId("uploads-clear", HTMLButtonElement).addEventListener("click", () => this.#clear());
    addEventListener("beforeunload", (event) => {
      if (this.#running > 0) event.preventDefault();
    });
  }

  /** Queues files and creates empty folders (arrays of names); hidden names are skipped when the server refuses them. */
  upload(found: readonly FoundFile[], emptyFolders: readonly string[][] = []): void {
    const isHidden = (names: readonly string[]) =>
      this.hideDotfiles && names.some((name) => name.startsWith("."));
    let skipped = 0;
    for (const item of found) {
      if (isHidden(item.names)) skipped++;
      else this.#add(item);
    }
    if (skipped > 0) {
      say(
        `Skipped ${skipped} hidden file${skipped === 1 ? "" : "s"} (names starting with “.”): ` +
          "this server does not accept them.",
        true,
      );
    }
    this.#pump();
    for (const names of emptyFolders.filter((names) => !isHidden(names))) {
      send("PUT", pathFor(names, true), {}, "").then(async (response) => {
        if (!response.ok) {
          say(`Could not create ${quoted(names.join("/"))}: ${await reason(response)}`, true);
        }
        this.#scheduleRefresh();
      });
    }
  }

  #scheduleRefresh(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => this.listing.refresh(), 250);
  }

  #updateSummary(): void {
    const counts: Record<JobState, number> = {
      queued: 0,
      uploading: 0,
      done: 0,
      error: 0,
      cancelled: 0,
      conflict: 0,
    };
    for (const job of this.#jobs) counts[job.state]++;
    const parts = [`${counts.done} of ${this.#jobs.length} uploaded`];
    const toGo = counts.uploading + counts.queued;
    if (toGo > 0) parts.push(`${toGo} to go`);
    if (counts.error > 0) parts.push(`${counts.error} failed`);
    if (counts.conflict > 0) parts.push(`${counts.conflict} already exist`);
    if (counts.cancelled > 0) parts.push(`${counts.cancelled} cancelled`);
    this.#summary.textContent = parts.join(" · ");
    this.#panel.hidden = this.#jobs.length === 0;
  }

  #setState(job: Job, state: JobState, statusText: string): void {
    job.state = state;
    job.row.dataset.state = state;
    job.status.textContent = statusText;
    job.cancel.hidden = !(state === "queued" || state === "uploading" || state === "conflict");
    job.cancel.textContent = state === "conflict" ? "Skip" : "Cancel";
    job.replace.hidden = state !== "conflict";
    this.#updateSummary();
  }

  #add({ file, names }: FoundFile): void {
    const label = names.join("/");
    const row = element("li", "upload");
    const bar = element("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${label}`);
    const buttons = element("span", "upload-buttons");
    const replace = element("button", "", "Replace");
    replace.type = "button";
    const cancel = element("button", "upload-cancel", "Cancel");
    cancel.type = "button";
    cancel.setAttribute("aria-label", `Cancel upload of ${label}`);
    buttons.append(replace, cancel);
    const status = element("span", "upload-status");
    row.append(element("span", "upload-name", label), bar, status, buttons);
    this.#list.append(row);
    const job: Job = {
      file,
      names,
      row,
      bar,
      status,
      cancel,
      replace,
      state: "queued",
      overwrite: false,
      xhr: null,
    };
    cancel.addEventListener("click", () => {
      if (job.state === "uploading") job.xhr?.abort();
      else {
        this.#setState(
          job,
          "cancelled",
          job.state === "conflict" ? "Skipped: kept the file on the server" : "Cancelled",
        );
      }
      this.#pump();
    });
    replace.addEventListener("click", () => {
      job.overwrite = true;
      this.#setState(job, "queued", "Queued");
      this.#pump();
    });
    this.#jobs.push(job);
    this.#setState(job, "queued", `Queued · ${formatSize(file.size)}`);
  }

  #pump(): void {
    while (this.#running < MAX_PARALLEL_UPLOADS) {
      const next = this.#jobs.find((job) => job.state === "queued");
      if (!next) break;
      this.#start(next);
    }
    this.#updateSummary();
  }

  #start(job: Job): void {
    this.#running++;
    const xhr = new XMLHttpRequest();
    job.xhr = xhr;
    const started = performance.now();
    const samples = [{ time: started, loaded: 0 }];
    this.#setState(job, "uploading", "Starting…");
    xhr.upload.addEventListener("progress", (event) => {
      const now = performance.now();
      samples.push({ time: now, loaded: event.loaded });
      while (samples.length > 2 && now - samples[0].time > SPEED_WINDOW_MS) samples.shift();
      const oldest = samples[0];
      const seconds = (now - oldest.time) / 1000;
      const speed = seconds > 0 ? (event.loaded - oldest.loaded) / seconds : 0;
      job.bar.value = event.loaded;
      job.status.textContent = `${formatSize(event.loaded)} of ${formatSize(job.file.size)} · ` +
        `${formatSize(Math.round(speed))}/s`;
    });
    const finished = (state: JobState, text: string) => {
      this.#running--;
      job.xhr = null;
      this.#setState(job, state, text);
      if (state === "done") this.#scheduleRefresh();
      this.#pump();
    };
    xhr.addEventListener("load", () => {
      const seconds = (performance.now() - started) / 1000;
      if (xhr.status >= 200 && xhr.status < 300) {
        job.bar.value = job.bar.max;
        const rate = formatSize(Math.round(job.file.size / Math.max(seconds, 0.001)));
        finished(
          "done",
          `${xhr.status === 201 ? "Uploaded " : "Replaced · "}${formatSize(job.file.size)} in ` +
            `${seconds.toFixed(1)} s · ${rate}/s`,
        );
      } else if (xhr.status === 412 && !job.overwrite) {
        job.bar.value = 0;
        finished("conflict", "A file with this name already exists.");
      } else {
        finished(
          "error",
          `Failed: ${xhr.responseText.trim() || `${xhr.status} ${xhr.statusText}`}`,
        );
      }
    });
    xhr.addEventListener("error", () => finished("error", "Failed: the connection broke"));
    xhr.addEventListener("abort", () => {
      job.bar.value = 0;
      finished("cancelled", "Cancelled");
    });
    xhr.open("PUT", pathFor(job.names, false));
    if (!job.overwrite) xhr.setRequestHeader("If-None-Match", "*");
    xhr.send(job.file);
  }

  #clear(): void {
    this.#jobs = this.#jobs.filter((job) => {
      const over = job.state === "done" || job.state === "cancelled" || job.state === "error";
      if (over) job.row.remove();
      return !over;
    });
    this.#updateSummary();
  }
}
