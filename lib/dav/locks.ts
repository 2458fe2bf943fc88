/**
 * WebDAV write locks (RFC 4918 §6-7) over the store's shared lock table:
 * granting (with the conflict rules), refreshing, releasing, and which
 * locks cover a path. Like x/net/webdav's `LockSystem`, it never touches a
 * disk itself; the {@linkcode LockTable} holds the locks where every worker
 * and instance on the ROOT sees them (see `lib/storage/lock_table.ts` for
 * what survives a restart: every lock, until it times out).
 *
 * @module
 */

import type { LockTable, StoredLock } from "../storage/lock_table.ts";
import type { StoragePath } from "../storage/storage.ts";

/** A granted lock. */
export type ActiveLock = StoredLock;

/** What a LOCK request asks for. */
export interface LockRequest {
  /** The resource to lock. */
  path: StoragePath;
  /** "0" for the resource, "infinity" for a collection and all its members. */
  depth: "0" | "infinity";
  /** Exclusive or shared. */
  scope: "exclusive" | "shared";
  /** The `owner` element as the client sent it, or "". */
  owner: string;
  /** The timeout asked for, in seconds (see {@linkcode parseTimeout}). */
  timeoutSeconds: number;
  /** The authenticated user asking, if any: the lock's creator, who alone may use it. */
  principal?: string;
}

/**
 * The longest lock granted, in seconds, `Infinite` included: a client that
 * vanished (a crash, a closed laptop) holds a file for an hour at most.
 * Clients refresh their locks well before they time out.
 */
export const MAX_LOCK_SECONDS = 3600;

/**
 * The timeout to grant for a `Timeout` header (RFC 4918 §10.7): the first
 * `Second-N` or `Infinite` in the list, capped at
 * {@linkcode MAX_LOCK_SECONDS}; the cap when the header is absent or holds
 * nothing understood.
 */
export function parseTimeout(value: string | undefined): number {
  for (const item of (value ?? "").split(",")) {
    const type = item.trim();
    if (/^infinite$/i.test(type)) return MAX_LOCK_SECONDS;
    const seconds = /^second-([0-9]{1,12})$/i.exec(type);
    if (seconds !== null) return Math.max(1, Math.min(MAX_LOCK_SECONDS, Number(seconds[1])));
  }
  return MAX_LOCK_SECONDS;
}

/**
 * Whether `principal` may use `lock` (RFC 4918 §6.4: only its creator,
 * when the server knows who that is).
 */
export function usableBy(lock: ActiveLock, principal: string | undefined): boolean {
  return lock.principal === undefined || lock.principal === principal;
}

/** Whether `prefix` is `path` or one of its ancestors. */
function isAncestorOrSelf(prefix: StoragePath, path: StoragePath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** Whether `lock` covers `path`: rooted at it, or at an ancestor with depth infinity. */
export function covers(lock: ActiveLock, path: StoragePath): boolean {
  return isAncestorOrSelf(lock.path, path) &&
    (lock.path.length === path.length || lock.depth === "infinity");
}

/** The locks that cover `path`. */
export function locksCovering(locks: readonly ActiveLock[], path: StoragePath): ActiveLock[] {
  return locks.filter((lock) => covers(lock, path));
}

/** The locks that cover `path` or are rooted below it: those a change of its whole tree meets. */
export function locksInTree(locks: readonly ActiveLock[], path: StoragePath): ActiveLock[] {
  return locks.filter((lock) => covers(lock, path) || isAncestorOrSelf(path, lock.path));
}

/**
 * The locks that keep `request` from being granted: those whose scope meets
 * its scope (they cover its resource, or it has depth infinity and they are
 * rooted below it) where either side is exclusive.
 */
export function conflictingLocks(
  locks: readonly ActiveLock[],
  request: Pick<LockRequest, "path" | "depth" | "scope">,
): ActiveLock[] {
  const met = request.depth === "infinity"
    ? locksInTree(locks, request.path)
    : locksCovering(locks, request.path);
  return met.filter((lock) => lock.scope === "exclusive" || request.scope === "exclusive");
}

/** Thrown by {@linkcode DavLocks.lock} when other locks stand in the way. */
export class LockConflictError extends Error {
  /** The locks in the way. */
  readonly conflicts: ActiveLock[];

  /** @param conflicts the locks in the way */
  constructor(conflicts: ActiveLock[]) {
    super("The resource is locked");
    this.name = "LockConflictError";
    this.conflicts = conflicts;
  }
}

/** The lock system: the rules above applied to the store's table. */
export class DavLocks {
  readonly #table: LockTable;
  readonly #now: () => number;

  /**
   * @param table where the locks live
   * @param now the clock, in ms since the epoch
   */
  constructor(table: LockTable, now: () => number = Date.now) {
    this.#table = table;
    this.#now = now;
  }

  /** Every lock that has not expired. */
  async live(): Promise<ActiveLock[]> {
    const now = this.#now();
    return (await this.#table.read()).filter((lock) => lock.expiresAt > now);
  }

  /** Grants a new lock with a fresh token, or throws {@linkcode LockConflictError}. */
  async lock(request: LockRequest): Promise<ActiveLock> {
    return await this.#change((locks, now) => {
      const conflicts = conflictingLocks(locks, request);
      if (conflicts.length > 0) throw new LockConflictError(conflicts);
      const lock: ActiveLock = {
        token: `urn:uuid:${crypto.randomUUID()}`,
        path: [...request.path],
        depth: request.depth,
        scope: request.scope,
        owner: request.owner,
        timeoutSeconds: request.timeoutSeconds,
        expiresAt: now + request.timeoutSeconds * 1000,
        ...(request.principal === undefined ? {} : { principal: request.principal }),
      };
      return { locks: [...locks, lock], result: lock };
    });
  }

  /**
   * Restarts the timeout of the lock with one of `tokens` that covers
   * `path` and that `principal` may use; the refreshed lock, or null when
   * there is none.
   */
  async refresh(
    tokens: ReadonlySet<string>,
    path: StoragePath,
    timeoutSeconds: number,
    principal?: string,
  ): Promise<ActiveLock | null> {
    return await this.#change((locks, now) => {
      const index = locks.findIndex((lock) =>
        tokens.has(lock.token) && covers(lock, path) && usableBy(lock, principal)
      );
      if (index < 0) return { locks, result: null };
      const refreshed = { ...locks[index], timeoutSeconds, expiresAt: now + timeoutSeconds * 1000 };
      return { locks: locks.with(index, refreshed), result: refreshed };
    });
  }

  /**
   * Releases the lock `token` if it covers `path`: "unlocked", "not-found"
   * when there is no such lock, "forbidden" when `principal` did not take it.
   */
  async unlock(
    token: string,
    path: StoragePath,
    principal?: string,
  ): Promise<"unlocked" | "not-found" | "forbidden"> {
    return await this.#change((locks) => {
      const index = locks.findIndex((lock) => lock.token === token && covers(lock, path));
      if (index < 0) return { locks, result: "not-found" as const };
      if (!usableBy(locks[index], principal)) return { locks, result: "forbidden" as const };
      return { locks: locks.toSpliced(index, 1), result: "unlocked" as const };
    });
  }

  /**
   * Drops the locks rooted at `path` or below it: its resources were
   * deleted or moved away (RFC 4918 §9.6.1, §9.9.1), and a new resource
   * there must not inherit them. Reads first, so a tree without locks costs
   * no change to the table.
   */
  async removeTree(path: StoragePath): Promise<void> {
    const rooted = (lock: ActiveLock) => isAncestorOrSelf(path, lock.path);
    if (!(await this.#table.read()).some(rooted)) return;
    await this.#change((locks) => ({ locks: locks.filter((lock) => !rooted(lock)), result: null }));
  }

  /** Applies `change` to the live locks (expired ones are dropped on the way). */
  #change<T>(
    change: (locks: ActiveLock[], now: number) => { locks: ActiveLock[]; result: T },
  ): Promise<T> {
    return this.#table.update((stored) => {
      const now = this.#now();
      return change(stored.filter((lock) => lock.expiresAt > now), now);
    });
  }
}
