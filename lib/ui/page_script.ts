/**
 * The listing page's script, embedded in the page under the response's CSP
 * nonce. Everything it does is a plain HTTP request a script could make too:
 *
 * - refresh: `GET <dir>/` with `Accept: text/html`, whose `<tbody>` replaces the table's
 * - upload: `PUT <dir>/<path>` (XMLHttpRequest, for progress), first with `If-None-Match: *`
 *   so nothing is replaced unasked; "Replace" retries without it
 * - new folder (and the empty folders of a dropped tree): `PUT <dir>/<name>/` with an empty body
 * - rename or move: `MOVE <path>` with `Destination: <absolute path>` and `Overwrite: F`;
 *   after a 412 and the user's yes, again with `Overwrite: T`
 * - delete: `DELETE <path>` (a folder's path ends in "/"; only empty folders go)
 *
 * The page works without it: links, sorting links and the breadcrumb are
 * plain HTML. With it, sorting and filtering happen in place, times become
 * relative ("3 hours ago", the exact local time on hover) and, when the
 * server allows writes, the upload, new-folder, rename and delete controls
 * work. File names only ever reach the DOM through `textContent`,
 * `setAttribute` and `dataset`, never as markup.
 *
 * The page script is plain JavaScript in a string (not type-checked here);
 * the browser tests in `browser_tests/` exercise it. The functions it shares
 * with the server come from `portable.ts` by their source text.
 *
 * @module
 */

import { encodePathSegment, entryComparator, formatRelativeTime, formatSize } from "./portable.ts";

/**
 * The page's behaviour. Kept free of `${` and backticks: it lives inside a
 * template literal.
 */
const MAIN = String.raw`
var doc = document;
var body = doc.body;
var table = doc.getElementById("listing");
var tbody = table.tBodies[0];
var filterInput = doc.getElementById("filter");
var filterCount = doc.getElementById("filter-count");
var noMatch = doc.getElementById("no-match");
var notice = doc.getElementById("notice");
var summary = doc.getElementById("summary");
var writable = body.dataset.writable === "true";
var hideDotfiles = body.dataset.dotfiles !== "true";

var SORT_KEYS = ["name", "size", "mtime"];
var initialQuery = new URLSearchParams(location.search);
var sortKey = SORT_KEYS.indexOf(initialQuery.get("sort")) >= 0 ? initialQuery.get("sort") : "name";
var sortOrder = initialQuery.get("order") === "desc" ? "desc" : "asc";

function say(text, isError) {
  notice.textContent = text;
  notice.classList.toggle("error", Boolean(isError));
}

/* ---- Times: relative text, exact local time on hover ---- */

var exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

function showTimes() {
  var now = Date.now();
  tbody.querySelectorAll("time[datetime]").forEach(function (time) {
    var ms = Date.parse(time.dateTime);
    if (Number.isNaN(ms)) return;
    time.textContent = formatRelativeTime(ms, now);
    time.title = exactTime.format(ms);
  });
}
setInterval(showTimes, 60000);

/* ---- Sorting and filtering in place ---- */

function entryRows() {
  return Array.from(tbody.querySelectorAll("tr[data-name]"));
}

function entryOf(row) {
  var data = row.dataset;
  return {
    name: data.name,
    isDirectory: data.type === "directory",
    size: data.size === undefined ? null : Number(data.size),
    mtime: data.mtime === undefined ? null : Number(data.mtime),
  };
}

function sortRows() {
  var compare = entryComparator(sortKey, sortOrder);
  var pairs = entryRows().map(function (row) { return { row: row, entry: entryOf(row) }; });
  pairs.sort(function (a, b) { return compare(a.entry, b.entry); });
  tbody.append.apply(tbody, pairs.map(function (pair) { return pair.row; }));
  table.tHead.querySelectorAll("a[data-sort]").forEach(function (link) {
    var key = link.dataset.sort;
    var active = key === sortKey;
    var cell = link.closest("th");
    if (active) cell.setAttribute("aria-sort", sortOrder === "asc" ? "ascending" : "descending");
    else cell.removeAttribute("aria-sort");
    link.search = "?sort=" + key + "&order=" + (active && sortOrder === "asc" ? "desc" : "asc");
    link.querySelector(".arrow").textContent = active ? (sortOrder === "asc" ? " ▲" : " ▼") : "";
  });
}

table.tHead.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-sort]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  var next = new URLSearchParams(link.search);
  sortKey = next.get("sort");
  sortOrder = next.get("order");
  history.replaceState(null, "", "?sort=" + sortKey + "&order=" + sortOrder);
  sortRows();
});

function applyFilter() {
  var query = filterInput.value.trim().toLowerCase();
  var rows = entryRows();
  var shown = 0;
  rows.forEach(function (row) {
    var match = query === "" || row.dataset.name.toLowerCase().indexOf(query) >= 0;
    row.hidden = !match;
    if (match) shown++;
  });
  noMatch.hidden = !(rows.length > 0 && shown === 0);
  filterCount.textContent = query === "" ? "" : shown + " of " + rows.length;
}

filterInput.addEventListener("input", applyFilter);
filterInput.addEventListener("keydown", function (event) {
  if (event.key === "Escape" && filterInput.value !== "") {
    filterInput.value = "";
    applyFilter();
  }
});
doc.addEventListener("keydown", function (event) {
  var target = event.target;
  var typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
    target.isContentEditable;
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey &&
      !doc.querySelector("dialog[open]")) {
    event.preventDefault();
    filterInput.focus();
  }
});

function decorate() {
  showTimes();
  sortRows();
  applyFilter();
}

/* ---- Refreshing the rows from the server's own HTML ---- */

var refreshing = null;
var refreshAgain = false;

/**
 * Only the part of the fresh page between <main> and </main> is parsed: the
 * rest holds the new page's nonced style and script, which this page's CSP
 * (with its own nonce) would report as violations. That part holds no raw
 * names: the server escapes them all, so "</main>" cannot occur inside it.
 */
async function loadRows() {
  var response = await fetch(location.pathname, { headers: { Accept: "text/html" }, cache: "no-store" });
  if (!response.ok) return;
  var html = await response.text();
  var start = html.indexOf("<main>");
  var end = html.indexOf("</main>");
  if (start < 0 || end < start) return;
  var fresh = new DOMParser().parseFromString(html.slice(start, end + 7), "text/html");
  var freshBody = fresh.querySelector("#listing tbody");
  if (!freshBody) return;
  var focused = rowControlOf(doc.activeElement);
  tbody.replaceChildren.apply(tbody, Array.from(freshBody.children, function (row) {
    return doc.importNode(row, true);
  }));
  var freshSummary = fresh.getElementById("summary");
  if (freshSummary) summary.textContent = freshSummary.textContent;
  decorate();
  if (focused) refocus(focused);
}

/**
 * Which row control an element is ({name, action}; action "" for the link),
 * so focus can find its way back after the rows were rebuilt. Null outside
 * the rows.
 */
function rowControlOf(element) {
  var row = element && tbody.contains(element) ? element.closest("tr[data-name]") : null;
  if (!row) return null;
  var button = element.closest("button[data-action]");
  return { name: row.dataset.name, action: button ? button.dataset.action : "" };
}

/** Focuses the same control in the current rows (its link if the control is gone). */
function refocus(control) {
  var row = entryRows().find(function (candidate) { return candidate.dataset.name === control.name; });
  if (!row) return;
  var target = (control.action && row.querySelector('button[data-action="' + control.action + '"]')) ||
    row.querySelector("a");
  if (target) target.focus();
}

/** Reloads the rows; calls made while one runs are folded into one more run. */
async function refreshListing() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async function () {
    do {
      refreshAgain = false;
      try {
        await loadRows();
      } catch (error) {
        say("Could not refresh the listing: " + error.message, true);
      }
    } while (refreshAgain);
  })();
  try {
    await refreshing;
  } finally {
    refreshing = null;
  }
}

decorate();

if (writable) setUpWrites();

function setUpWrites() {
  var MAX_PARALLEL_UPLOADS = 3;
  var SPEED_WINDOW_MS = 3000;

  function directoryPath() {
    return location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  }

  /** The URL path of names relative to this directory. */
  function pathFor(names, isDirectory) {
    return directoryPath() + names.map(encodePathSegment).join("/") + (isDirectory ? "/" : "");
  }

  function send(method, url, headers, bodyText) {
    return fetch(url, {
      method: method,
      headers: headers || {},
      body: bodyText,
      cache: "no-store",
      credentials: "same-origin",
    });
  }

  async function reason(response) {
    var text = "";
    try {
      text = (await response.text()).trim();
    } catch (_) { /* the status says enough */ }
    return text || response.status + " " + response.statusText;
  }

  /* ---- The one dialog: confirmations and name prompts ---- */

  var dialog = doc.getElementById("dialog");
  var dialogTitle = doc.getElementById("dialog-title");
  var dialogMessage = doc.getElementById("dialog-message");
  var dialogField = doc.getElementById("dialog-field");
  var dialogInput = doc.getElementById("dialog-input");
  var dialogOk = doc.getElementById("dialog-ok");
  var dialogCancel = doc.getElementById("dialog-cancel");
  dialogCancel.addEventListener("click", function () { dialog.close("cancel"); });

  /*
   * The answer is taken when the dialog loses its "open" attribute (a
   * microtask after close), not from the "close" event, a task later: by
   * then another dialog may already be open and would take this answer.
   */
  var pendingAnswer = null;
  var opener = null;
  new MutationObserver(function () {
    if (dialog.open || !pendingAnswer) return;
    var resolve = pendingAnswer;
    pendingAnswer = null;
    resolve(dialog.returnValue === "ok" ? dialogInput.value : null);
    /* The rows may have been rebuilt meanwhile, taking the control that opened the dialog. */
    if (opener && (doc.activeElement === body || !doc.activeElement)) refocus(opener);
  }).observe(dialog, { attributes: true, attributeFilter: ["open"] });

  /**
   * Shows the dialog; resolves to the typed text (or "" without a field) on
   * OK, null on Cancel or Escape.
   */
  function ask(options) {
    opener = rowControlOf(doc.activeElement);
    var withField = typeof options.value === "string";
    dialogTitle.textContent = options.title;
    dialogMessage.textContent = options.message || "";
    dialogMessage.hidden = !options.message;
    dialogField.hidden = !withField;
    dialogInput.required = withField;
    dialogInput.value = withField ? options.value : "";
    dialogOk.textContent = options.ok;
    dialogOk.className = options.danger ? "danger" : "primary";
    dialog.returnValue = "";
    dialog.showModal();
    if (withField) {
      dialogInput.focus();
      dialogInput.setSelectionRange(0, options.selectEnd === undefined ? dialogInput.value.length : options.selectEnd);
    } else if (options.danger) {
      dialogCancel.focus();
    } else {
      dialogOk.focus();
    }
    return new Promise(function (resolve) { pendingAnswer = resolve; });
  }

  /* ---- Delete, rename, new folder ---- */

  function quoted(name) {
    return "“" + name + "”";
  }

  async function deleteEntry(entry) {
    var kind = entry.isDirectory ? "folder" : "file";
    var answer = await ask({
      title: "Delete " + quoted(entry.name) + "?",
      message: entry.isDirectory
        ? "Only an empty folder can be deleted."
        : "The file is removed from the server. This cannot be undone.",
      ok: "Delete " + kind,
      danger: true,
    });
    if (answer === null) return;
    var response = await send("DELETE", pathFor([entry.name], entry.isDirectory));
    if (response.ok) say("Deleted " + quoted(entry.name) + ".");
    else if (response.status === 409) say(quoted(entry.name) + " is not empty, so it was not deleted.", true);
    else say("Could not delete " + quoted(entry.name) + ": " + await reason(response), true);
    await refreshListing();
  }

  /**
   * The absolute, percent-encoded URL path for what the user typed: a name,
   * or a path with "/" (relative to this folder, or from the top with a
   * leading "/"). Null when nothing usable was typed.
   */
  function destinationFor(text, isDirectory) {
    var names = text.split("/").filter(function (name) { return name !== ""; });
    if (names.length === 0) return null;
    var encoded = names.map(function (name) {
      return name === "." || name === ".." ? name : encodePathSegment(name);
    }).join("/");
    var base = text.startsWith("/") ? "/" : directoryPath();
    var resolved = new URL(base + encoded + (isDirectory ? "/" : ""), location.origin).pathname;
    return resolved === "/" ? null : resolved;
  }

  async function renameEntry(entry) {
    var dot = entry.isDirectory ? -1 : entry.name.lastIndexOf(".");
    var typed = await ask({
      title: "Rename " + quoted(entry.name),
      message: "Type a new name. A path such as ../other/name or /top/name moves it.",
      value: entry.name,
      selectEnd: dot > 0 ? dot : undefined,
      ok: "Rename",
    });
    if (typed === null || typed.trim() === "" || typed === entry.name) return;
    var destination = destinationFor(typed.trim(), entry.isDirectory);
    if (destination === null) return say("That is not a name a file can have.", true);
    var source = pathFor([entry.name], entry.isDirectory);
    var response = await send("MOVE", source, { Destination: destination, Overwrite: "F" });
    if (response.status === 412) {
      var replace = await ask({
        title: "Replace " + quoted(decodeURIComponent(destination)) + "?",
        message: "Something with that name already exists. Replacing it cannot be undone.",
        ok: "Replace",
        danger: true,
      });
      if (replace === null) return;
      response = await send("MOVE", source, { Destination: destination, Overwrite: "T" });
    }
    if (response.ok) say("Renamed " + quoted(entry.name) + " to " + quoted(typed.trim()) + ".");
    else say("Could not rename " + quoted(entry.name) + ": " + await reason(response), true);
    await refreshListing();
  }

  async function makeFolder() {
    var typed = await ask({ title: "New folder", value: "", ok: "Create folder" });
    if (typed === null) return;
    var names = typed.split("/").filter(function (name) { return name.trim() !== ""; });
    if (names.length === 0) return;
    var response = await send("PUT", pathFor(names, true), {}, "");
    if (response.status === 201) say("Created folder " + quoted(names.join("/")) + ".");
    else if (response.ok) say("The folder " + quoted(names.join("/")) + " already exists.");
    else say("Could not create " + quoted(names.join("/")) + ": " + await reason(response), true);
    await refreshListing();
  }

  tbody.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var row = button.closest("tr[data-name]");
    if (!row) return;
    var entry = entryOf(row);
    if (button.dataset.action === "delete") deleteEntry(entry);
    else if (button.dataset.action === "rename") renameEntry(entry);
  });
  doc.getElementById("new-folder").addEventListener("click", makeFolder);

  /* ---- Uploads: one row each, with progress, speed and cancel ---- */

  var uploadsPanel = doc.getElementById("uploads");
  var uploadList = doc.getElementById("upload-list");
  var uploadsSummary = doc.getElementById("uploads-summary");
  var jobs = [];
  var running = 0;
  var refreshTimer = 0;

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshListing, 250);
  }

  function element(tag, className, text) {
    var node = doc.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function updateSummary() {
    var counts = { queued: 0, uploading: 0, done: 0, error: 0, cancelled: 0, conflict: 0 };
    jobs.forEach(function (job) { counts[job.state]++; });
    var parts = [counts.done + " of " + jobs.length + " uploaded"];
    if (counts.uploading + counts.queued > 0) parts.push((counts.uploading + counts.queued) + " to go");
    if (counts.error > 0) parts.push(counts.error + " failed");
    if (counts.conflict > 0) parts.push(counts.conflict + " already exist");
    if (counts.cancelled > 0) parts.push(counts.cancelled + " cancelled");
    uploadsSummary.textContent = parts.join(" · ");
    uploadsPanel.hidden = jobs.length === 0;
  }

  function setState(job, state, statusText) {
    job.state = state;
    job.row.dataset.state = state;
    job.status.textContent = statusText;
    job.cancel.hidden = !(state === "queued" || state === "uploading" || state === "conflict");
    job.cancel.textContent = state === "conflict" ? "Skip" : "Cancel";
    job.replace.hidden = state !== "conflict";
    updateSummary();
  }

  function addJob(file, names) {
    var label = names.join("/");
    var row = element("li", "upload");
    var bar = element("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + label);
    var buttons = element("span", "upload-buttons");
    var replace = element("button", "", "Replace");
    replace.type = "button";
    var cancel = element("button", "upload-cancel", "Cancel");
    cancel.type = "button";
    cancel.setAttribute("aria-label", "Cancel upload of " + label);
    buttons.append(replace, cancel);
    var status = element("span", "upload-status");
    row.append(element("span", "upload-name", label), bar, status, buttons);
    uploadList.append(row);
    var job = { file: file, names: names, row: row, bar: bar, status: status, cancel: cancel,
      replace: replace, state: "queued", overwrite: false, xhr: null };
    cancel.addEventListener("click", function () {
      if (job.state === "uploading") job.xhr.abort();
      else setState(job, "cancelled", job.state === "conflict" ? "Skipped: kept the file on the server" : "Cancelled");
      pump();
    });
    replace.addEventListener("click", function () {
      job.overwrite = true;
      setState(job, "queued", "Queued");
      pump();
    });
    jobs.push(job);
    setState(job, "queued", "Queued · " + formatSize(file.size));
  }

  function pump() {
    while (running < MAX_PARALLEL_UPLOADS) {
      var next = jobs.find(function (job) { return job.state === "queued"; });
      if (!next) break;
      start(next);
    }
    updateSummary();
  }

  function start(job) {
    running++;
    var xhr = new XMLHttpRequest();
    job.xhr = xhr;
    var started = performance.now();
    var samples = [{ time: started, loaded: 0 }];
    setState(job, "uploading", "Starting…");
    xhr.upload.addEventListener("progress", function (event) {
      var now = performance.now();
      samples.push({ time: now, loaded: event.loaded });
      while (samples.length > 2 && now - samples[0].time > SPEED_WINDOW_MS) samples.shift();
      var oldest = samples[0];
      var seconds = (now - oldest.time) / 1000;
      var speed = seconds > 0 ? (event.loaded - oldest.loaded) / seconds : 0;
      job.bar.value = event.loaded;
      job.status.textContent = formatSize(event.loaded) + " of " + formatSize(job.file.size) +
        " · " + formatSize(Math.round(speed)) + "/s";
    });
    function finished(state, text) {
      running--;
      job.xhr = null;
      setState(job, state, text);
      if (state === "done") scheduleRefresh();
      pump();
    }
    xhr.addEventListener("load", function () {
      var seconds = (performance.now() - started) / 1000;
      if (xhr.status >= 200 && xhr.status < 300) {
        job.bar.value = job.bar.max;
        finished("done", (xhr.status === 201 ? "Uploaded " : "Replaced · ") + formatSize(job.file.size) +
          " in " + seconds.toFixed(1) + " s · " +
          formatSize(Math.round(job.file.size / Math.max(seconds, 0.001))) + "/s");
      } else if (xhr.status === 412 && !job.overwrite) {
        job.bar.value = 0;
        finished("conflict", "A file with this name already exists.");
      } else {
        finished("error", "Failed: " + (xhr.responseText.trim() || xhr.status + " " + xhr.statusText));
      }
    });
    xhr.addEventListener("error", function () { finished("error", "Failed: the connection broke"); });
    xhr.addEventListener("abort", function () {
      job.bar.value = 0;
      finished("cancelled", "Cancelled");
    });
    xhr.open("PUT", pathFor(job.names, false));
    if (!job.overwrite) xhr.setRequestHeader("If-None-Match", "*");
    xhr.send(job.file);
  }

  /** Queues files ({file, names}) and creates empty folders (arrays of names). */
  function upload(found, emptyFolders) {
    var skipped = 0;
    var isHidden = function (names) {
      return hideDotfiles && names.some(function (name) { return name.startsWith("."); });
    };
    found.forEach(function (item) {
      if (isHidden(item.names)) skipped++;
      else addJob(item.file, item.names);
    });
    if (skipped > 0) {
      say("Skipped " + skipped + " hidden file" + (skipped === 1 ? "" : "s") +
        " (names starting with “.”): this server does not accept them.", true);
    }
    pump();
    emptyFolders.filter(function (names) { return !isHidden(names); }).forEach(async function (names) {
      var response = await send("PUT", pathFor(names, true), {}, "");
      if (!response.ok) say("Could not create " + quoted(names.join("/")) + ": " + await reason(response), true);
      scheduleRefresh();
    });
  }

  var fileInput = doc.getElementById("file-input");
  var folderInput = doc.getElementById("folder-input");
  var folderButton = doc.getElementById("upload-folder");
  doc.getElementById("upload-files").addEventListener("click", function () { fileInput.click(); });
  if ("webkitdirectory" in HTMLInputElement.prototype) {
    folderButton.addEventListener("click", function () { folderInput.click(); });
  } else {
    folderButton.hidden = true;
  }
  fileInput.addEventListener("change", function () {
    upload(Array.from(fileInput.files, function (file) { return { file: file, names: [file.name] }; }), []);
    fileInput.value = "";
  });
  folderInput.addEventListener("change", function () {
    upload(Array.from(folderInput.files, function (file) {
      return { file: file, names: (file.webkitRelativePath || file.name).split("/") };
    }), []);
    folderInput.value = "";
  });
  doc.getElementById("uploads-clear").addEventListener("click", function () {
    jobs = jobs.filter(function (job) {
      var finishedJob = job.state === "done" || job.state === "cancelled" || job.state === "error";
      if (finishedJob) job.row.remove();
      return !finishedJob;
    });
    updateSummary();
  });
  addEventListener("beforeunload", function (event) {
    if (running > 0) event.preventDefault();
  });

  /* ---- Drag and drop, folders included ---- */

  var overlay = doc.getElementById("drop-overlay");
  var dragDepth = 0;

  function carriesFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types).indexOf("Files") >= 0;
  }

  function readEntries(reader) {
    return new Promise(function (resolve, reject) { reader.readEntries(resolve, reject); });
  }

  function entryFile(entry) {
    return new Promise(function (resolve, reject) { entry.file(resolve, reject); });
  }

  async function walk(entry, parents, found, emptyFolders) {
    var names = parents.concat([entry.name]);
    if (entry.isFile) {
      found.push({ file: await entryFile(entry), names: names });
      return;
    }
    var reader = entry.createReader();
    var count = 0;
    for (;;) {
      var batch = await readEntries(reader);
      if (batch.length === 0) break;
      count += batch.length;
      for (var i = 0; i < batch.length; i++) await walk(batch[i], names, found, emptyFolders);
    }
    if (count === 0) emptyFolders.push(names);
  }

  async function dropped(dataTransfer) {
    var found = [];
    var folders = [];
    /* Items are readable only during the event: take every entry and file before any await. */
    Array.from(dataTransfer.items).forEach(function (item) {
      if (item.kind !== "file") return;
      var entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      if (entry && entry.isDirectory) folders.push(entry);
      else {
        var file = item.getAsFile();
        if (file) found.push({ file: file, names: [file.name] });
      }
    });
    var emptyFolders = [];
    try {
      for (var i = 0; i < folders.length; i++) await walk(folders[i], [], found, emptyFolders);
    } catch (error) {
      say("Could not read a dropped folder: " + error.message, true);
    }
    upload(found, emptyFolders);
  }

  doc.addEventListener("dragenter", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth++;
    overlay.hidden = false;
  });
  doc.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  doc.addEventListener("dragleave", function (event) {
    if (!carriesFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) overlay.hidden = true;
  });
  doc.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    overlay.hidden = true;
    dropped(event.dataTransfer);
  });
}
`;

/** The whole page script: the shared functions by their source, then the page's behaviour, in strict mode and its own scope. */
export const PAGE_SCRIPT = `"use strict";
(function () {
var formatSize = ${formatSize};
var formatRelativeTime = ${formatRelativeTime};
var entryComparator = ${entryComparator};
var encodePathSegment = ${encodePathSegment};
${MAIN}
})();
`;

/** Runs before the body is painted: marks the page as scripted, so JavaScript-only controls show without a flash. */
export const EARLY_SCRIPT = 'document.documentElement.classList.add("js");';
