/**
 * A small but fair `Deno.serve` static file server, the baseline the benchmark
 * compares our server against. It does what a careful hand-written handler
 * would: one `open` + `fstat` per request, streams the file with
 * `file.readable`, sends Content-Type, Content-Length, ETag and Last-Modified,
 * answers `If-None-Match` / `If-Modified-Since` with 304, supports HEAD, and
 * stores PUT bodies in a temp file that is renamed into place.
 *
 * Same command line as our server:
 * `deno run --allow-net --allow-read --allow-write bench/reference_serve.ts --host 127.0.0.1 --port 8080 ROOT`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, dirname, extname, join, resolve } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
};

const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/**
 * The Content-Type for a file name, from a small extension table.
 *
 * @param fileName a file name or path
 * @returns the media type, `application/octet-stream` when unknown
 */
export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[extname(fileName).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}

/**
 * A strong entity tag built from size and modification time, like nginx's.
 *
 * @param info the file's metadata
 * @returns the quoted ETag value
 */
export function entityTag(info: Deno.FileInfo): string {
  const mtime = info.mtime?.getTime() ?? 0;
  return `"${mtime.toString(16)}-${info.size.toString(16)}"`;
}

/**
 * Whether an `If-None-Match` header value matches an entity tag, using the
 * weak comparison RFC 9110 prescribes for GET and HEAD.
 *
 * @param headerValue the raw `If-None-Match` value
 * @param etag the resource's current ETag
 * @returns true when the client's copy is current
 */
export function ifNoneMatchMatches(headerValue: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  const current = opaque(etag);
  return headerValue.split(",").some((tag) => tag.trim() === "*" || opaque(tag) === current);
}

/**
 * Maps a URL path onto a file path under `root`, or null when the path is
 * malformed or tries to leave the root.
 *
 * @param root the absolute directory being served
 * @param urlPathname the request URL's pathname (still percent-encoded)
 * @returns the absolute file path, or null to answer 400
 */
export function resolveRequestPath(root: string, urlPathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPathname);
  } catch {
    return null;
  }
  // Decoding can turn "%2e%2e%2f" into a parent reference the URL parser never saw.
  if (!decoded.startsWith("/") || decoded.includes("\0")) return null;
  if (decoded.split("/").includes("..")) return null;
  return join(root, decoded);
}

function errorResponse(status: number, message: string, headers: HeadersInit = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/** Opens a regular file, following a directory to its index.html; null when absent. */
async function openRegularFile(
  path: string,
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo; path: string } | null> {
  let candidate = path;
  for (let attempt = 0; attempt < 2; attempt++) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(candidate, { read: true });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const info = await file.stat();
    if (info.isFile) return { file, info, path: candidate };
    file.close();
    if (!info.isDirectory) return null;
    candidate = join(candidate, "index.html");
  }
  return null;
}

function isNotModified(request: Request, etag: string, info: Deno.FileInfo): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) return ifNoneMatchMatches(ifNoneMatch, etag);
  const ifModifiedSince = request.headers.get("if-modified-since");
  if (ifModifiedSince === null || info.mtime === null) return false;
  const since = Date.parse(ifModifiedSince);
  // HTTP dates have one-second resolution.
  return !Number.isNaN(since) && Math.floor(info.mtime.getTime() / 1000) * 1000 <= since;
}

async function serveFile(request: Request, path: string): Promise<Response> {
  const opened = await openRegularFile(path);
  if (opened === null) return errorResponse(404, "Not Found");
  const { file, info } = opened;
  const etag = entityTag(info);
  const headers = new Headers({
    "etag": etag,
    "last-modified": (info.mtime ?? new Date(0)).toUTCString(),
  });
  if (isNotModified(request, etag, info)) {
    file.close();
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-type", contentTypeFor(opened.path));
  headers.set("content-length", String(info.size));
  if (request.method === "HEAD") {
    file.close();
    return new Response(null, { headers });
  }
  // The stream closes the file when it ends or the client goes away.
  return new Response(file.readable, { headers });
}

async function storeUpload(request: Request, path: string): Promise<Response> {
  let existed = false;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return errorResponse(409, "Target is a directory");
    existed = true;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const temporary = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.upload`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temporary, { write: true, createNew: true });
  } catch (error) {
    if (isNotFound(error)) return errorResponse(409, "Parent directory does not exist");
    throw error;
  }
  try {
    if (request.body === null) file.close();
    else await request.body.pipeTo(file.writable);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  return new Response(null, { status: existed ? 204 : 201 });
}

/**
 * Builds the request handler serving and storing files under `root`.
 *
 * @param root the directory to serve; made absolute
 * @returns a handler for `Deno.serve`
 */
export function createHandler(root: string): (request: Request) => Promise<Response> {
  const absoluteRoot = resolve(root);
  return async (request) => {
    const path = resolveRequestPath(absoluteRoot, new URL(request.url).pathname);
    if (path === null) return errorResponse(400, "Bad Request");
    try {
      switch (request.method) {
        case "GET":
        case "HEAD":
          return await serveFile(request, path);
        case "PUT":
          if (path.endsWith("/")) return errorResponse(409, "Target is a directory");
          return await storeUpload(request, path);
        default:
          return errorResponse(405, "Method Not Allowed", { allow: "GET, HEAD, PUT" });
      }
    } catch (error) {
      if (error instanceof Deno.errors.PermissionDenied) return errorResponse(403, "Forbidden");
      console.error(error);
      return errorResponse(500, "Internal Server Error");
    }
  };
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string" } },
    allowPositionals: true,
  });
  const port = Number(values.port ?? "8080");
  if (positionals.length !== 1 || !Number.isInteger(port)) {
    console.error("usage: reference_serve.ts --host HOST --port PORT ROOT");
    Deno.exit(2);
  }
  Deno.serve({
    hostname: values.host,
    port,
    onListen: ({ hostname, port }) => {
      console.log(`reference_serve listening on http://${hostname}:${port}/`);
    },
  }, createHandler(positionals[0]));
}

if (import.meta.main) main();
