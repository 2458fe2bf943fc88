/**
 * The one check every request passes before its handler runs: its `If`
 * header holds (RFC 4918 §10.4; 412 when not, 400 when malformed), and
 * every lock on what it would change has had its token submitted in that
 * header, by the user who took it when there is auth (RFC 4918 §6.4, §7.4;
 * 423 with `lock-token-submitted` naming the locks when not). Handlers never
 * look at locks themselves.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { decodeUrlPath, encodeUrlPath } from "../handlers/url_path.ts";
import type { Storage, StoragePath } from "../storage/storage.ts";
import { evaluateIf, parseIfHeader, taggedResources } from "./if_header.ts";
import type { ResourceState } from "./if_header.ts";
import { locksCovering, locksInTree, usableBy } from "./locks.ts";
import type { ActiveLock, DavLocks } from "./locks.ts";
import { escapeXml, XML_CONTENT_TYPE, xmlDocument } from "./xml_writer.ts";

/** Something a request changes, as far as locks are concerned. */
export interface Change {
  /** The resource. */
  path: StoragePath;
  /**
   * How much of it changes: `tree` the resource and all its members (DELETE,
   * a MOVE's source, what a MOVE or COPY overwrites), `resource` the
   * resource alone, `none` neither (a LOCK: the lock system judges
   * conflicts itself).
   */
  reach: "tree" | "resource" | "none";
  /**
   * Whether it adds or removes the resource in its parent collection, whose
   * locks then apply too: `always` (it is removed), `if-new` (it is created
   * when nothing is there yet), `never`.
   */
  membership: "always" | "if-new" | "never";
}

/** The check's outcome for a request that may go ahead. */
export interface Cleared {
  /** The lock tokens the `If` header submitted (a LOCK refresh names its lock by them). */
  submitted: ReadonlySet<string>;
}

const NOTHING_SUBMITTED: Cleared = { submitted: new Set() };

/**
 * What `method` changes at `path` (`destination`: a MOVE's or COPY's
 * Destination): the table the lock check works from. Reads change nothing.
 * A form (POST) may write any member of its collection, so the whole tree
 * counts.
 */
export function changesOf(
  method: string,
  path: StoragePath,
  destination: StoragePath | null,
): Change[] {
  switch (method) {
    case "PUT":
    case "MKCOL":
    case "PATCH":
      return [{ path, reach: "resource", membership: "if-new" }];
    case "PROPPATCH":
      return [{ path, reach: "resource", membership: "never" }];
    case "POST":
      return [{ path, reach: "tree", membership: "if-new" }];
    case "DELETE":
      return [{ path, reach: "tree", membership: "always" }];
    case "LOCK":
      return [{ path, reach: "none", membership: "if-new" }];
    case "MOVE":
    case "COPY": {
      const target: Change[] = destination === null
        ? []
        : [{ path: destination, reach: "tree", membership: "if-new" }];
      return method === "MOVE"
        ? [{ path, reach: "tree", membership: "always" }, ...target]
        : target;
    }
    default:
      return [];
  }
}

/**
 * Checks `request` against the locks and its `If` header. `path` is the
 * resource its untagged `If` lists are judged on (the request URI's, or a
 * resumable upload's target). Resolves with the submitted tokens, or with
 * the 423 response to send; throws 400 for a malformed `If` and 412 when it
 * does not hold. Without an `If` header and with nothing to change, nothing
 * is read; otherwise the lock table once, and `stat` only for the resources
 * an `If` header names and for new members of a locked collection.
 */
export async function checkLocks(
  locks: DavLocks,
  storage: Storage,
  request: Request,
  path: StoragePath,
  changes: readonly Change[],
): Promise<Cleared | Response> {
  const ifValue = request.headers.get("if");
  if (ifValue === undefined && changes.length === 0) return NOTHING_SUBMITTED;
  const header = ifValue === undefined ? null : parseIfHeader(ifValue);
  const live = await locks.live();
  let submitted: ReadonlySet<string> = NOTHING_SUBMITTED.submitted;
  if (header !== null) {
    const stateOf = async (resource: StoragePath | null): Promise<ResourceState> => {
      if (resource === null) return { etag: null, lockTokens: [] };
      const entry = await storage.stat(resource);
      return {
        etag: entry?.kind === "file" ? entry.etag : null,
        lockTokens: locksCovering(live, resource).map((lock) => lock.token),
      };
    };
    const states = new Map<string | null, ResourceState>([[null, await stateOf(path)]]);
    for (const tag of taggedResources(header)) {
      states.set(tag, await stateOf(taggedPath(tag, request)));
    }
    const verdict = evaluateIf(header, (resource) => states.get(resource)!);
    if (!verdict.holds) throw new HttpError(412, "The If header's condition does not hold");
    submitted = verdict.submitted;
  }
  if (live.length === 0) return { submitted };
  /** A lock counts as held when its token was submitted by its creator (RFC 4918 §6.4). */
  const held = (lock: ActiveLock) => submitted.has(lock.token) && usableBy(lock, request.user);
  const missing = new Map<string, ActiveLock>();
  for (const change of changes) {
    const own = change.reach === "tree"
      ? locksInTree(live, change.path)
      : change.reach === "resource"
      ? locksCovering(live, change.path)
      : [];
    for (const lock of own) if (!held(lock)) missing.set(lock.token, lock);
    if (change.membership === "never" || change.path.length === 0) continue;
    const parents = locksCovering(live, change.path.slice(0, -1))
      .filter((lock) => !held(lock) && !missing.has(lock.token));
    if (parents.length === 0) continue;
    // Replacing a member's content leaves the collection's membership alone.
    if (change.membership === "if-new" && (await storage.stat(change.path)) !== null) continue;
    for (const lock of parents) missing.set(lock.token, lock);
  }
  return missing.size === 0 ? { submitted } : lockedResponse([...missing.values()]);
}

/**
 * The path a Resource-Tag names, or null when it names nothing of this
 * server (another authority, a path that is not a valid one here): such a
 * resource is unmapped for the header's evaluation.
 */
function taggedPath(tag: string, request: Request): StoragePath | null {
  let rawPath = tag;
  if (!tag.startsWith("/")) {
    const absolute = /^https?:\/\/([^/?#]+)(\/[^?#]*)?/i.exec(tag);
    const host = (request.headers.get("host") ?? "").toLowerCase();
    if (absolute === null || absolute[1].toLowerCase() !== host) return null;
    rawPath = absolute[2] ?? "/";
  }
  try {
    return decodeUrlPath(rawPath.split(/[?#]/)[0]).segments;
  } catch (error) {
    if (error instanceof HttpError) return null;
    throw error;
  }
}

/** 423 Locked naming the roots of the locks whose tokens were not submitted (RFC 4918 §16). */
function lockedResponse(locks: ActiveLock[]): Response {
  const hrefs = locks.map((lock) =>
    `<D:href>${escapeXml(encodeUrlPath(lock.path, false))}</D:href>`
  );
  return {
    status: 423,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: xmlDocument(
      "error",
      `<D:lock-token-submitted>${hrefs.join("")}</D:lock-token-submitted>`,
    ),
  };
}
