/**
 * Share and drop links: the secret, revocations and upload usage they share
 * through the store's state documents, minting them, and the handler that
 * serves requests made with one (`/.well-known/filedrop-share/TOKEN/...`).
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import type { Handler } from "../server/connection.ts";
import { getPath } from "../handlers/get.ts";
import type { ReadConfig } from "../handlers/get.ts";
import { putFile } from "../handlers/put.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath } from "../handlers/url_path.ts";
import { ContainedStorage } from "../storage/contained.ts";
import { FsStorage } from "../storage/fs.ts";
import type { Storage, StoragePath } from "../storage/storage.ts";
import type { StateDocument } from "../storage/state_document.ts";
import { dropPage } from "../ui/drop_page.ts";
import {
  importShareKey,
  linkPermits,
  newShareId,
  SHARE_PATH_PREFIX,
  signShareToken,
  verifyShareToken,
} from "./share_token.ts";
import type { ShareGrant, ShareScope } from "./share_token.ts";
import { AccessPolicy, needsOf } from "./access.ts";
import type { Access, LinkPrincipal } from "./access.ts";

/** Decides for link holders: their rights are their grant's, whatever rules the server has. */
const LINK_POLICY = new AccessPolicy([]);

export { SHARE_PATH_PREFIX };

const SHARE_SEGMENTS = SHARE_PATH_PREFIX.split("/").filter((s) => s !== "");

/** Names of the state documents, under the store's hidden state directory. */
const SECRET_DOCUMENT = "share/secret";
const REVOKED_DOCUMENT = "share/revoked.json";
const USAGE_DOCUMENT = "share/usage.json";

/** Thrown when a link cannot be made (no usable secret, a bad request); the message says why. */
export class ShareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShareError";
  }
}

/** What a new link grants; the id and the token are made by {@linkcode ShareLinks.create}. */
export interface NewLink {
  /** Upload-only drop or read-only. */
  scope: ShareScope;
  /** The path it grants. */
  path: string[];
  /** How long it works, in ms from now. */
  lifetimeMs: number;
  /** Most bytes an upload link may store in all. */
  maxBytes: number | null;
}

/** A link made by {@linkcode ShareLinks.create}. */
export interface CreatedLink {
  /** What it grants. */
  grant: ShareGrant;
  /** Its URL path, `/.well-known/filedrop-share/TOKEN` (with "/" for a folder). */
  urlPath: string;
}

/**
 * The links of one store: every worker and instance of it, and the
 * `filedrop share` command, agree on the secret (a state document, unless
 * one is configured), the revocations and the bytes each link has stored,
 * since all of them live in the store.
 */
export class ShareLinks {
  readonly #configured: Uint8Array<ArrayBuffer> | null;
  readonly #secret: StateDocument;
  readonly #revoked: StateDocument;
  readonly #usage: StateDocument;
  #key: { source: string; key: CryptoKey } | null = null;
  #revokedIds: { text: string; ids: Set<string> } | null = null;

  /**
   * @param storage the store whose state documents hold the links' state
   * @param secret a configured secret (`--share-secret`), or null to use the store's
   */
  constructor(storage: Storage, secret: string | null) {
    this.#configured = secret === null ? null : new TextEncoder().encode(secret);
    if (this.#configured !== null && this.#configured.length < 16) {
      throw new ShareError("a share secret needs at least 16 bytes");
    }
    this.#secret = storage.stateDocument(SECRET_DOCUMENT);
    this.#revoked = storage.stateDocument(REVOKED_DOCUMENT);
    this.#usage = storage.stateDocument(USAGE_DOCUMENT);
  }

  /** The signing key; with `create`, a secret is generated into the store when there is none. */
  async #signingKey(create: boolean): Promise<CryptoKey | null> {
    let source: string;
    if (this.#configured !== null) source = "configured";
    else {
      let text = await this.#secret.read();
      if (text === null && create) {
        const fresh = crypto.getRandomValues(new Uint8Array(32)).toBase64();
        text = await this.#secret.update((current) => {
          const kept = current ?? fresh;
          return { text: kept, result: kept };
        });
      }
      if (text === null) return null;
      source = text.trim();
    }
    if (this.#key?.source !== source) {
      const secret = this.#configured ?? Uint8Array.fromBase64(source);
      this.#key = { source, key: await importShareKey(secret) };
    }
    return this.#key.key;
  }

  /**
   * Makes a link (and the store's secret, when it has none yet) to what is a
   * `kind` at its path: a folder's URL ends in "/", so that relative links work.
   */
  async create(
    link: NewLink,
    kind: "file" | "directory",
    nowMs: number = Date.now(),
  ): Promise<CreatedLink> {
    const key = await this.#signingKey(true);
    const grant: ShareGrant = {
      scope: link.scope,
      id: newShareId(),
      path: link.path,
      expiresAt: Math.ceil((nowMs + link.lifetimeMs) / 1000) * 1000,
      maxBytes: link.maxBytes,
    };
    let token: string;
    try {
      token = await signShareToken(key!, grant);
    } catch (error) {
      if (error instanceof RangeError) throw new ShareError(error.message);
      throw error;
    }
    return { grant, urlPath: `${SHARE_PATH_PREFIX}${token}${kind === "directory" ? "/" : ""}` };
  }

  /** The grant of a token, or null when it is malformed, forged, expired or revoked. */
  async check(token: string, nowMs: number = Date.now()): Promise<ShareGrant | null> {
    const key = await this.#signingKey(false);
    if (key === null) return null;
    const revoked = await this.#revokedSet();
    const verdict = await verifyShareToken(key, token, nowMs, (id) => revoked.has(id));
    return typeof verdict === "string" ? null : verdict;
  }

  async #revokedSet(): Promise<Set<string>> {
    const text = await this.#revoked.read();
    if (text === null) return new Set();
    if (this.#revokedIds?.text !== text) {
      this.#revokedIds = { text, ids: new Set(Object.keys(parseRecord(text))) };
    }
    return this.#revokedIds.ids;
  }

  /** Revokes the link `id` for good; false when it already was. */
  async revoke(id: string, nowMs: number = Date.now()): Promise<boolean> {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new ShareError(`not a link id: ${JSON.stringify(id)}`);
    return await this.#revoked.update((text) => {
      const revoked = text === null ? {} : parseRecord(text);
      const fresh = !(id in revoked);
      if (fresh) revoked[id] = nowMs;
      return { text: JSON.stringify(revoked), result: fresh };
    });
  }

  /**
   * Counts `bytes` against the limit of `grant` before they are written;
   * 413 when they would exceed it. Usage entries of expired links are dropped.
   */
  async reserve(grant: ShareGrant, bytes: number, nowMs: number = Date.now()): Promise<void> {
    const limit = grant.maxBytes;
    if (limit === null) return;
    await this.#usage.update((text) => {
      const usage = text === null ? {} : parseRecord(text);
      for (const [id, entry] of Object.entries(usage)) {
        if (!isUsage(entry) || entry.expiresAt <= nowMs) delete usage[id];
      }
      const used = (usage[grant.id] as Usage | undefined)?.used ?? 0;
      if (used + bytes > limit) {
        throw new HttpError(
          413,
          `This link accepts ${limit - used} more byte(s); the upload has ${bytes}`,
        );
      }
      usage[grant.id] = { used: used + bytes, expiresAt: grant.expiresAt };
      return { text: JSON.stringify(usage), result: undefined };
    });
  }

  /** Gives back bytes reserved for an upload that did not complete. */
  async release(grant: ShareGrant, bytes: number): Promise<void> {
    if (grant.maxBytes === null || bytes === 0) return;
    await this.#usage.update((text) => {
      const usage = text === null ? {} : parseRecord(text);
      const entry = usage[grant.id];
      if (isUsage(entry)) entry.used = Math.max(0, entry.used - bytes);
      return { text: JSON.stringify(usage), result: undefined };
    });
  }

  /** Bytes the link `id` has stored so far. */
  async used(id: string): Promise<number> {
    const text = await this.#usage.read();
    const entry = text === null ? undefined : parseRecord(text)[id];
    return isUsage(entry) ? entry.used : 0;
  }
}

interface Usage {
  used: number;
  expiresAt: number;
}

function isUsage(value: unknown): value is Usage {
  return typeof value === "object" && value !== null &&
    typeof (value as Usage).used === "number" && typeof (value as Usage).expiresAt === "number";
}

/** A JSON object read back from a state document; anything else counts as empty. */
function parseRecord(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // A document someone broke by hand: start again rather than fail every request.
  }
  return {};
}

/** Options of {@linkcode withShareLinks}. */
export interface ShareLinkOptions {
  /** The links' state. */
  links: ShareLinks;
  /** The server's read settings (a read link reads through them, limited to its path). */
  read: ReadConfig;
}

/** Whether decoded request segments address the share namespace (a token or the namespace itself). */
export function isShareRequest(segments: readonly string[]): boolean {
  return segments[0] === SHARE_SEGMENTS[0] && segments[1] === SHARE_SEGMENTS[1];
}

/** Headers every link response carries: the URL is a credential and must not leave the page. */
const LINK_HEADERS: [string, string][] = [
  ["Referrer-Policy", "no-referrer"],
  ["X-Robots-Tag", "noindex"],
];

/**
 * Serves requests made with a link (`/.well-known/filedrop-share/TOKEN/REST`)
 * by its grant alone, without `--auth`: a read link reads below its path, an
 * upload link shows its drop page and creates files in its folder. Other
 * requests go to `inner`. A bad, expired or revoked token is 404, like a
 * link that never existed.
 */
export function withShareLinks(inner: Handler, options: ShareLinkOptions): Handler {
  const { links, read } = options;
  const serveLink = async (request: Request): Promise<Response> => {
    const url = decodeUrlPath(request.path);
    if (!isShareRequest(url.segments) || url.segments.length < 3) return await inner(request);
    const grant = await links.check(url.segments[2]);
    if (grant === null) {
      throw new HttpError(404, "This link does not exist, has expired or was revoked");
    }
    // The access log's user field: which link, never its token.
    request.user = `link:${grant.id}`;
    const rest = url.segments.slice(3);
    if (!linkPermits(grant.scope, { method: request.method, rest })) {
      throw new HttpError(
        405,
        `A${grant.scope === "read" ? " read" : "n upload"} link cannot do that`,
        {
          Allow: grant.scope === "read" ? "GET, HEAD, OPTIONS" : "GET, HEAD, PUT, OPTIONS",
          ...Object.fromEntries(LINK_HEADERS),
        },
      );
    }
    // The one decision every request passes through, for this link's holder.
    const principal: LinkPrincipal = { kind: "link", scope: grant.scope, path: grant.path };
    for (const need of needsOf(request.method, [...grant.path, ...rest])) {
      if (!LINK_POLICY.allows(principal, need.action, need.path, need.reach)) {
        throw new HttpError(403, "Forbidden");
      }
    }
    if (!read.dotfiles && isHiddenPath([...grant.path, ...rest])) {
      throw new HttpError(404, "Not found");
    }
    const prefix = `${SHARE_PATH_PREFIX}${url.segments[2]}/`;
    let response: Response;
    if (request.method === "OPTIONS") {
      response = {
        status: 204,
        headers: [[
          "Allow",
          grant.scope === "read" ? "GET, HEAD, OPTIONS" : "GET, HEAD, PUT, OPTIONS",
        ]],
      };
    } else if (grant.scope === "read") {
      response = await readThroughLink(read, request, grant.path, rest, url.trailingSlash, prefix);
    } else if (request.method === "PUT") {
      response = await dropFile(links, read, grant, request, rest[0]);
    } else {
      const folder = await read.storage.stat(grant.path);
      if (folder?.kind !== "directory") throw new HttpError(404, "This link's folder is gone");
      const left = grant.maxBytes === null ? null : grant.maxBytes - await links.used(grant.id);
      response = dropPage(grant, left, read.readOnly);
    }
    // The listing's own Referrer-Policy (same-origin) gives way to no-referrer.
    response.headers = response.headers.filter(([name]) =>
      name.toLowerCase() !== "referrer-policy"
    );
    response.headers.push(...LINK_HEADERS);
    return response;
  };
  // Not through an async layer for every other request: a frame and a promise each (measured).
  return (request) =>
    request.path.startsWith("/.well-known/") ? serveLink(request) : inner(request);
}

/** GET or HEAD below a read link's path, through a view of the store that nothing escapes. */
async function readThroughLink(
  read: ReadConfig,
  request: Request,
  base: string[],
  rest: string[],
  trailingSlash: boolean,
  prefix: string,
): Promise<Response> {
  const storage = read.storage;
  const realPathOf = storage instanceof FsStorage
    ? (target: StoragePath) => {
      try {
        return Deno.realPathSync(storage.fsPath(target));
      } catch {
        return null;
      }
    }
    : null;
  const segments = [...base, ...rest];
  const config: ReadConfig = {
    ...read,
    storage: new ContainedStorage(storage, base, realPathOf),
    readOnly: true,
    spa: false,
    view: { base, prefix },
  };
  const inside = {
    ...request,
    path: encodeUrlPath(segments, trailingSlash && segments.length > 0),
  };
  const response = await getPath(config, inside, { segments, trailingSlash });
  // A link to one file ends in its token: the download is named after the file instead.
  if (rest.length === 0 && !trailingSlash && base.length > 0 && response.status < 300) {
    response.headers.push([
      "Content-Disposition",
      `inline; filename*=UTF-8''${encodeURIComponent(base[base.length - 1])}`,
    ]);
  }
  return response;
}

/** Most names tried for a dropped file whose name is taken ("a (2).txt" ... "a (100).txt"). */
const MAX_NAME_TRIES = 100;

/** `name`, then "stem (2).ext", "stem (3).ext"...: the names a dropped file may get. */
export function* candidateNames(name: string): Generator<string> {
  yield name;
  const dot = name.lastIndexOf(".");
  const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 2; n <= MAX_NAME_TRIES; n++) yield `${stem} (${n})${extension}`;
}

/**
 * Stores a file dropped through an upload link directly in its folder. It
 * never replaces anything: a name that is taken gets a free one ("a (2).txt"),
 * and the answer never says which (no Location, no ETag), so a visitor learns
 * nothing about what the folder holds. The bytes count against the link's
 * limit before any is written.
 */
async function dropFile(
  links: ShareLinks,
  read: ReadConfig,
  grant: ShareGrant,
  request: Request,
  name: string,
): Promise<Response> {
  if (read.readOnly) throw new HttpError(403, "The server is read-only (--read-only)");
  for (const field of ["content-range", "upload-complete", "upload-incomplete", "upload-offset"]) {
    if (request.headers.has(field)) {
      throw new HttpError(
        400,
        "A drop link takes whole files in one request (no resumable uploads)",
      );
    }
  }
  const length = request.body.length;
  if (grant.maxBytes !== null && (length === null || !request.headers.has("content-length"))) {
    throw new HttpError(411, "This link has a size limit: send Content-Length");
  }
  const storage = read.storage;
  const folder = await storage.stat(grant.path);
  if (folder?.kind !== "directory") throw new HttpError(404, "This link's folder is gone");
  let chosen: string | null = null;
  for (const candidate of candidateNames(name)) {
    if (await storage.stat([...grant.path, candidate]) === null) {
      chosen = candidate;
      break;
    }
  }
  if (chosen === null) throw new HttpError(409, "Too many files with this name; rename it");
  const reserved = length ?? 0;
  await links.reserve(grant, reserved);
  try {
    const headers = new Map(request.headers);
    for (const field of ["if-match", "if-unmodified-since", "if-modified-since"]) {
      headers.delete(field);
    }
    headers.set("if-none-match", "*");
    const target = [...grant.path, chosen];
    await putFile(storage, { ...request, headers, path: encodeUrlPath(target, false) }, target);
  } catch (error) {
    await links.release(grant, reserved);
    // Taken between the look and the write (the store refuses to replace it): the client may retry.
    if (error instanceof HttpError && error.status === 412) {
      throw new HttpError(409, "Another file took this name at the same moment; try again");
    }
    throw error;
  }
  return {
    status: 201,
    headers: [["Content-Type", "text/plain; charset=utf-8"]],
    body: new TextEncoder().encode("201 Created\n"),
  };
}

/** Longest lifetime of a link: ten years. */
export const MAX_LINK_LIFETIME_MS = 3650 * 86_400_000;

/**
 * Checks what a new link is to grant against the store: the path must be
 * there (a folder for a drop). Resolves with what is there.
 */
export async function checkNewLink(
  storage: Storage,
  link: NewLink,
): Promise<"file" | "directory"> {
  if (!(link.lifetimeMs >= 1000 && link.lifetimeMs <= MAX_LINK_LIFETIME_MS)) {
    throw new ShareError("a link lasts from one second to ten years");
  }
  if (link.maxBytes !== null && link.scope !== "upload") {
    throw new ShareError("only an upload link has a byte limit");
  }
  const entry = await storage.stat(link.path);
  if (entry === null) throw new ShareError(`nothing is at /${link.path.join("/")}`);
  if (link.scope === "upload" && entry.kind !== "directory") {
    throw new ShareError(`an upload link needs a folder; /${link.path.join("/")} is a file`);
  }
  return entry.kind;
}

/** Largest body of a link-creation request, in characters. */
const MAX_CREATION_BODY = 4096;

/**
 * Handles `POST /.well-known/filedrop-share/` (what the page's "Share" dialog
 * sends) before `inner`: a JSON body `{"path": "/dir/", "scope": "read" |
 * "upload", "lifetimeSeconds": N, "maxBytes": N | null}` makes a link, answered
 * with `201` and `{"urlPath", "id", "expiresAt"}`. It sits inside the auth
 * layer, as a write: only those who may write may share.
 */
export function withShareCreation(
  inner: Handler,
  options: { links: ShareLinks; storage: Storage; readOnly: boolean; access: Access | null },
): Handler {
  const createLink = async (request: Request): Promise<Response> => {
    if (options.readOnly) throw new HttpError(403, "The server is read-only (--read-only)");
    const decoder = new TextDecoder();
    let text = "";
    for (let chunk = await request.body.read(); chunk !== null; chunk = await request.body.read()) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length > MAX_CREATION_BODY) throw new HttpError(413, "Request body too large");
    }
    text += decoder.decode();
    let link: NewLink;
    let kind: "file" | "directory";
    try {
      link = parseNewLink(JSON.parse(text));
      // Who shares must be allowed to write there, and to read what a read link shows.
      if (options.access !== null) {
        await options.access.authorize(request, "write", link.path);
        if (link.scope === "read") {
          await options.access.authorize(request, "read", link.path, "tree");
        }
      }
      kind = await checkNewLink(options.storage, link);
    } catch (error) {
      if (error instanceof ShareError || error instanceof SyntaxError) {
        throw new HttpError(400, error.message);
      }
      throw error;
    }
    const created = await options.links.create(link, kind);
    const body = JSON.stringify({
      urlPath: created.urlPath,
      id: created.grant.id,
      expiresAt: new Date(created.grant.expiresAt).toISOString(),
    });
    return {
      status: 201,
      headers: [["Content-Type", "application/json"], ["Cache-Control", "no-store"]],
      body: new TextEncoder().encode(body),
    };
  };
  return (request) =>
    request.method === "POST" && request.path === SHARE_PATH_PREFIX
      ? createLink(request)
      : inner(request);
}

/** A creation request's JSON as a {@linkcode NewLink}; ShareError when it is not one. */
function parseNewLink(value: unknown): NewLink {
  const fields = (typeof value === "object" && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  const { path, scope, lifetimeSeconds, maxBytes } = fields;
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new ShareError("path must be a URL path");
  }
  if (scope !== "read" && scope !== "upload") throw new ShareError('scope is "read" or "upload"');
  if (typeof lifetimeSeconds !== "number" || !Number.isInteger(lifetimeSeconds)) {
    throw new ShareError("lifetimeSeconds must be a whole number");
  }
  if (
    maxBytes !== null && maxBytes !== undefined &&
    !(Number.isSafeInteger(maxBytes) && (maxBytes as number) > 0)
  ) {
    throw new ShareError("maxBytes must be a positive whole number or null");
  }
  let segments: string[];
  try {
    segments = decodeUrlPath(path).segments;
  } catch {
    throw new ShareError("path is not a valid path");
  }
  return {
    scope,
    path: segments,
    lifetimeMs: lifetimeSeconds * 1000,
    maxBytes: (maxBytes as number | null | undefined) ?? null,
  };
}
