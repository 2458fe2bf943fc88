/**
 * POST of `multipart/form-data` to a directory: every file part streams into
 * its own staged version in the store, and only once the whole body has
 * arrived and parsed cleanly are they committed, together: the store checks
 * every name free before it puts the first file in place, so a taken name
 * fails the request with nothing stored; only a store error in the middle of
 * the commit could leave the files committed before it in place.
 *
 * Parsing is done by `@fastify/busboy`, a maintained streaming parser; the
 * request body is fed to it one chunk at a time, and the next chunk is read
 * only once the parser (and through it the file being written) has taken the
 * last one, so memory stays bounded whatever the upload's size. Each chunk is
 * copied first, since the body's views do not outlive the next read; V8 frees
 * those copies lazily, which shows as a one-time RSS growth of about 50 MB,
 * the same for a 100 MiB or a 1 GiB upload.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Busboy } from "@fastify/busboy";
import type { BusboyFileStream, BusboyInstance } from "@fastify/busboy";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { formatSize } from "./listing.ts";
import { decodeUrlPath, encodeUrlPath } from "./url_path.ts";
import { escapeHtml } from "../ui/html.ts";
import { prefersJson } from "../content/negotiate.ts";
import type { Access } from "../policy/access.ts";
import type {
  StagedFile,
  Storage,
  StoragePath,
  StoredEntry,
  WriteCondition,
} from "../storage/storage.ts";

/** What a form upload needs to know about the server. */
export interface FormUploadContext {
  /** Where the files go. */
  storage: Storage;
  /** Largest request body in bytes (413 beyond); Infinity for no limit. */
  maxBodyBytes: number;
  /**
   * Who may write what: the router allowed a write to the folder, and a rule
   * may still refuse one of its files by name (403 for the whole form). Null
   * or absent: everyone may.
   */
  access?: Access | null;
}

/** Most file parts in one form (413 beyond): each holds a temp file until the body ends. */
const MAX_FILE_PARTS = 1000;
/** Most parts of any kind in one form (413 beyond), so a flood of tiny fields cannot spin forever. */
const MAX_PARTS = 10_000;

/** A file part written to its staged version, waiting to be committed. */
interface ReceivedFile {
  /** The safe base name it is stored under. */
  name: string;
  /** Its staged version (at the directory plus `name`). */
  staged: StagedFile;
}

/** One stored file, as the response lists it. */
interface StoredFile {
  name: string;
  size: number;
  /** Its URL path, percent-encoded. */
  location: string;
}

// --- Request checks ----------------------------------------------------------

/** RFC 2046 §5.1.1 boundary characters (a space is allowed, except last). */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function unsupportedType(): HttpError {
  return new HttpError(415, "POST takes multipart/form-data with a boundary");
}

/**
 * The boundary of a `multipart/form-data` Content-Type, or 415. Boundary
 * characters never include ";" or '"', so splitting on ";" is exact for every
 * valid value.
 */
function formBoundary(contentType: string | undefined): string {
  if (contentType === undefined) throw unsupportedType();
  const [mediaType, ...params] = contentType.split(";");
  if (mediaType.trim().toLowerCase() !== "multipart/form-data") throw unsupportedType();
  for (const param of params) {
    const equals = param.indexOf("=");
    if (equals === -1 || param.slice(0, equals).trim().toLowerCase() !== "boundary") continue;
    let value = param.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (!BOUNDARY.test(value)) throw unsupportedType();
    return value;
  }
  throw unsupportedType();
}

/** C0 controls, DEL and C1 controls. */
// deno-lint-ignore no-control-regex -- matching control characters is its purpose.
const CONTROL_CHARS = /[\u0000-\u001F\u007F-\u009F]/g;

function badName(): HttpError {
  return new HttpError(400, "A file name in the form is not allowed");
}

/**
 * Reduces a form part's file name to the base name it is stored under: the
 * text after the last "/" or "\\" (so "../../x" is "x" and "C:\\evil\\a.txt"
 * is "a.txt"), with control characters removed. Throws HttpError(400) for a
 * name a URL could not reach (the rules of {@link decodeUrlPath}: empty, "."
 * or "..", ":", a trailing dot or space, a Windows device name, a temp-file
 * name, too long) and for dotfiles.
 *
 * @param filename the `filename` (or `filename*`) of a part, already decoded to text
 * @example
 * ```ts
 * safeBaseName("C:\\Users\\me\\café.txt"); // "café.txt"
 * ```
 */
export function safeBaseName(filename: string): string {
  const name = filename.slice(Math.max(filename.lastIndexOf("/"), filename.lastIndexOf("\\")) + 1)
    .replace(CONTROL_CHARS, "");
  if (name === "" || name.startsWith(".")) throw badName();
  let encoded: string;
  try {
    encoded = encodeURIComponent(name);
  } catch {
    throw badName(); // A lone surrogate: not representable in UTF-8.
  }
  // Reuse the URL rules, so every stored file can be fetched by its URL.
  try {
    const { segments } = decodeUrlPath(`/${encoded}`);
    if (segments.length !== 1 || segments[0] !== name) throw badName();
  } catch {
    throw badName();
  }
  return name;
}

// --- Receiving the body --------------------------------------------------------

/** Options of {@linkcode receiveFiles}. */
interface ReceiveOptions {
  context: FormUploadContext;
  boundary: string;
  dirPath: StoragePath;
  /** What each file's target must accept (a free name, unless overwriting). */
  condition: WriteCondition;
  /** Every version staged, so the caller can discard those not committed. */
  staged: Set<StagedFile>;
}

/** A file part's data, typed: busboy's streams yield Buffers, which are Uint8Arrays. */
function chunksOf(stream: BusboyFileStream): AsyncIterable<Uint8Array> {
  return stream;
}

/** The condition every target of a form meets: no directory there, and no file unless `overwrite`. */
function formCondition(overwrite: boolean): WriteCondition {
  return {
    createOnly: !overwrite,
    check(current: StoredEntry | null): void {
      if (current?.kind === "directory") {
        throw new HttpError(409, "A directory has that file's name");
      }
      if (current !== null && !overwrite) {
        throw new HttpError(409, "A file with that name exists (add ?overwrite=1 to replace it)");
      }
    },
  };
}

/**
 * Feeds the request body to a busboy parser and writes each file part to a
 * staged version; resolves with the files once the body has ended and parsed.
 * Throws on a malformed body (400), too large a body or too many parts (413),
 * a bad or taken name (400, 409), or a failed read or write. The versions it
 * staged are in `options.staged`, whether it succeeds or not.
 */
async function receiveFiles(request: Request, options: ReceiveOptions): Promise<ReceivedFile[]> {
  const { context, dirPath, condition, staged } = options;
  const abort = new AbortController();
  const aborted = new Promise<never>((_, reject) => {
    abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
  });
  aborted.catch(() => {}); // Observed through the races below.
  const fail = (error: unknown) => abort.abort(error); // The first reason wins.

  const parser: BusboyInstance = Busboy({
    // Rebuilt from the validated boundary so the parser and this module agree on it.
    headers: { "content-type": `multipart/form-data; boundary="${options.boundary}"` },
    preservePath: true, // safeBaseName applies its own rules to the full name.
    isPartAFile: (_field, _type, filename) => filename !== undefined,
    limits: { files: MAX_FILE_PARTS, parts: MAX_PARTS, fieldSize: 0 }, // Fields are ignored.
  });

  const names = new Set<string>();
  const openStreams = new Set<BusboyFileStream>();

  async function receiveFile(
    stream: BusboyFileStream,
    filename: string,
  ): Promise<ReceivedFile | null> {
    if (filename === "") {
      // A browser sends an empty, nameless part for a file input left empty.
      let size = 0;
      for await (const data of chunksOf(stream)) size += data.length;
      if (size > 0) throw new HttpError(400, "A file part has no file name");
      return null;
    }
    const name = safeBaseName(filename);
    if (names.has(name)) throw new HttpError(400, "Two file parts have the same name");
    names.add(name);
    const targetPath = [...dirPath, name];
    if (context.access && !(await context.access.allows(request, "write", targetPath))) {
      throw new HttpError(403, "Forbidden");
    }
    // A part the parser found after the request failed must not stage a file
    // once the cleanup below may have taken its list.
    abort.signal.throwIfAborted();
    // The condition is checked as the file is staged (and again at the commit):
    // a client streaming a large file learns at once that its name was taken.
    const file = await context.storage.stage(targetPath, condition);
    staged.add(file);
    for await (const data of chunksOf(stream)) await file.write(data);
    // Lets the store send what it holds now: the next parts need not wait behind it in memory.
    await file.end?.();
    return { name, staged: file };
  }

  const receiving: Promise<ReceivedFile | null>[] = [];
  parser.on("file", (_field, stream, filename) => {
    // The parser also reports a truncated part on its stream, after the
    // stream may have been destroyed below; its own "error" event (a 400)
    // already covers it, and an unheard "error" would be thrown uncaught.
    stream.on("error", () => {});
    openStreams.add(stream);
    const received = receiveFile(stream, filename).finally(() => openStreams.delete(stream));
    received.catch(fail);
    receiving.push(received);
  });
  parser.on("error", () => fail(new HttpError(400, "Malformed multipart/form-data body")));
  const tooManyParts = () => fail(new HttpError(413, "Too many parts in the form"));
  parser.on("partsLimit", tooManyParts);
  parser.on("filesLimit", tooManyParts);
  const finished = new Promise<void>((resolve) => parser.on("finish", resolve));

  try {
    let total = 0;
    for (let chunk = await request.body.read(); chunk !== null; chunk = await request.body.read()) {
      total += chunk.length;
      if (total > context.maxBodyBytes) throw new HttpError(413, "Request body too large");
      // A copy: the view is only valid until the next read, and the parser
      // hands slices of it on to the file streams.
      const copy = Buffer.from(chunk);
      // The callback comes once the parser can take more, which it cannot
      // while the file being written lags behind: that is the backpressure.
      await Promise.race([
        new Promise<void>((resolve) => parser.write(copy, () => resolve())),
        aborted,
      ]);
    }
    parser.end();
    await Promise.race([finished, aborted]);
    const files = await Promise.race([Promise.all(receiving), aborted]);
    return files.filter((file) => file !== null);
  } catch (error) {
    fail(error);
    throw abort.signal.reason;
  } finally {
    // Unblock the part writers still waiting for data, and wait for every one
    // to settle, so no temp file is created after the caller's cleanup.
    for (const stream of openStreams) stream.destroy();
    await Promise.allSettled(receiving);
  }
}

// --- Response ------------------------------------------------------------------

/** JSON when `?format=json`, or when Accept prefers it (as directory listings decide); HTML otherwise. */
function wantsJson(request: Request, format: string | null): boolean {
  if (format !== null) return format === "json";
  return prefersJson(request.headers.get("accept"));
}

function renderHtml(dirSegments: readonly string[], files: readonly StoredFile[]): string {
  const dirUrl = encodeUrlPath(dirSegments, true);
  const dirLabel = escapeHtml(dirSegments.length === 0 ? "/" : `/${dirSegments.join("/")}/`);
  const items = files.map((file) =>
    `<li><a href="${escapeHtml(file.location)}">${escapeHtml(file.name)}</a> ` +
    `(${formatSize(file.size)})</li>`
  );
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Uploaded to ${dirLabel}</title>
</head>
<body>
<h1>Uploaded to ${dirLabel}</h1>
<ul>
${items.join("\n")}
</ul>
<p><a href="${escapeHtml(dirUrl)}">Back to ${dirLabel}</a></p>
</body>
</html>
`;
}

function createdResponse(
  request: Request,
  query: URLSearchParams,
  dirSegments: readonly string[],
  files: readonly StoredFile[],
): Response {
  const json = wantsJson(request, query.get("format"));
  const headers: [string, string][] = [
    ["Content-Type", json ? "application/json; charset=utf-8" : "text/html; charset=utf-8"],
    ["Cache-Control", "no-store"],
    ["Vary", "Accept"],
  ];
  if (files.length === 1) headers.push(["Location", files[0].location]);
  const body = json ? `${JSON.stringify({ files })}\n` : renderHtml(dirSegments, files);
  return { status: 201, headers, body: new TextEncoder().encode(body) };
}

// --- Entry point -----------------------------------------------------------------

/**
 * Handles POST multipart/form-data to the directory `dirSegments` (which must
 * exist, else 404; not a directory, 409).
 * 415 for another Content-Type or a missing boundary; 400 for a malformed
 * body, a form without files, or a file name that is not allowed (see
 * {@link safeBaseName}); 409 when a name is taken, unless `?overwrite=1`;
 * 413 beyond `maxBodyBytes`. Non-file fields are ignored.
 *
 * Every file is streamed to a staged version, and all are committed together
 * only after the whole body parsed, the store checking every name free
 * first, so a failed request (a conflict, a malformed or truncated body, a
 * disconnect) stores nothing and leaves no temp file. Answers 201 listing the stored files: JSON
 * (`{ "files": [{ "name", "size", "location" }] }`) when Accept prefers
 * application/json or `?format=json`, else a small HTML page.
 */
export async function postForm(
  context: FormUploadContext,
  request: Request,
  dirSegments: StoragePath,
): Promise<Response> {
  const boundary = formBoundary(request.headers.get("content-type"));
  const directory = await context.storage.stat(dirSegments);
  if (directory === null) throw new HttpError(404, "Not found");
  if (directory.kind !== "directory") throw new HttpError(409, "The target is not a directory");
  if (request.body.length !== null && request.body.length > context.maxBodyBytes) {
    throw new HttpError(413, "Request body too large");
  }
  const query = new URLSearchParams(request.query);
  const condition = formCondition(query.get("overwrite") === "1");

  const staged = new Set<StagedFile>();
  try {
    const files = await receiveFiles(request, {
      context,
      boundary,
      dirPath: dirSegments,
      condition,
      staged,
    });
    if (files.length === 0) throw new HttpError(400, "The form holds no file");
    staged.clear(); // The commit spends them, whatever its outcome.
    await context.storage.commit(files.map((file) => ({ staged: file.staged, condition })));
    return createdResponse(
      request,
      query,
      dirSegments,
      files.map(({ name, staged }) => ({
        name,
        size: staged.size,
        location: encodeUrlPath([...dirSegments, name], false),
      })),
    );
  } finally {
    await Promise.all([...staged].map((file) => context.storage.discard(file)));
  }
}
