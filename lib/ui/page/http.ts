/// <reference lib="dom" />
/**
 * The page's requests: URL paths relative to the listed folder and plain
 * `fetch` calls, the same any script could make.
 *
 * @module
 */

import { encodePathSegment } from "../portable.ts";

/** The listed folder's URL path, with its trailing slash. */
export function directoryPath(): string {
  return location.pathname.endsWith("/") ? location.pathname : `${location.pathname}/`;
}

/** The URL path of `names` relative to the listed folder ("/" at the end for a folder). */
export function pathFor(names: readonly string[], isDirectory: boolean): string {
  return directoryPath() + names.map(encodePathSegment).join("/") + (isDirectory ? "/" : "");
}

/** Sends one request to this origin, never from the cache. */
export function send(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Response> {
  return fetch(url, { method, headers, body, cache: "no-store", credentials: "same-origin" });
}

/**
 * Why a request failed, in words: the server's text, else its status line.
 * 423's text is WebDAV XML, so it is put in words here.
 */
export async function reason(response: Response): Promise<string> {
  if (response.status === 423) {
    await response.body?.cancel();
    return "it is locked by a WebDAV client (a mounted drive is editing it); try again later";
  }
  let text = "";
  try {
    text = (await response.text()).trim();
  } catch {
    // The status says enough.
  }
  return text || `${response.status} ${response.statusText}`;
}

/**
 * The absolute, percent-encoded URL path for what the user typed: a name, or
 * a path with "/" (relative to this folder, or from the top with a leading
 * "/"). Null when nothing usable was typed.
 */
export function destinationFor(text: string, isDirectory: boolean): string | null {
  const names = text.split("/").filter((name) => name !== "");
  if (names.length === 0) return null;
  const encoded = names.map((name) =>
    name === "." || name === ".." ? name : encodePathSegment(name)
  ).join("/");
  const base = text.startsWith("/") ? "/" : directoryPath();
  const resolved = new URL(base + encoded + (isDirectory ? "/" : ""), location.origin).pathname;
  return resolved === "/" ? null : resolved;
}
