/**
 * Upload temp files: created beside their target with a name no user file
 * can have and that names the process that wrote it, so that a start-up
 * removes only those no live writer owns, even with other instances (other
 * processes, other hosts over a shared file system) serving the same ROOT.
 *
 * A writer proves it is alive by holding an exclusive lock (`flock`) on its
 * owner file, `ROOT/.filedrop-tmp-state/owners/SESSION`, for as long as it
 * runs; the kernel (or the NFS server) drops the lock when the process dies,
 * however it dies. A temp file whose owner file can be locked, or is gone,
 * belongs to no one.
 *
 * @module
 */

import * as path from "node:path";
import { directorySteps } from "./quick_steps.ts";

/** Prefix of the store's temp files: never served, listed or writable by URL. */
export const TEMP_PREFIX = ".filedrop-tmp-";

/**
 * Prefix of the partial data of resumable uploads: temp files too (never
 * listed or served), but kept across restarts until they expire.
 */
export const UPLOAD_TEMP_PREFIX = `${TEMP_PREFIX}upload-`;

/** A new, empty temp file, open for writing. */
export interface TempFile {
  /** Its path. */
  path: string;
  /** The open file. */
  file: Deno.FsFile;
}

/** The store's own state under ROOT, hidden like every temp name. */
export const STATE_DIR = `${TEMP_PREFIX}state`;

/**
 * Name of the file holding a resource's WebDAV dead properties (in the
 * mirror tree under {@linkcode STATE_DIR}, see fs_properties.ts): state, not
 * a temp file, so never swept.
 */
export const PROPERTIES_FILE = `${TEMP_PREFIX}props`;

/**
 * A temp file of an unknown owner (a name from before owners were recorded)
 * is removed only this long after its last write: no live writer lets one
 * sit that long (a stalled body is cut after 30 s).
 */
export const UNOWNED_TEMP_AGE_MS = 60 * 60 * 1000;

/** Temp file names: `.filedrop-tmp-w_SESSION_RANDOM`. */
const OWNED_NAME = /^\.filedrop-tmp-w_([0-9a-f]{16})_[0-9a-f]+$/;

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Removes `filePath` (with `recursive`, a whole tree); false when it was not there. */
async function removeIfThere(filePath: string, recursive = false): Promise<boolean> {
  try {
    await Deno.remove(filePath, { recursive });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Every directory under `root` (itself included) with its entries, never
 * following symlinks; unreadable directories are skipped. Both start-up
 * walks (stale temps, resumable uploads) use it.
 */
export async function* directoriesUnder(
  root: string,
): AsyncGenerator<{ directory: string; entries: Deno.DirEntry[] }> {
  const pending = [root];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(directory));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry.isDirectory) pending.push(path.join(directory, entry.name));
    }
    yield { directory, entries };
  }
}

/**
 * This process's temp files under one ROOT: creates them under its session's
 * name (claiming the session's owner file first), and removes the abandoned
 * ones of other sessions. {@linkcode TempFiles.close} gives the claim up.
 */
export class TempFiles {
  readonly #rootReal: string;
  readonly #owners: string;
  readonly #session = randomHex(8);
  #owner: Promise<Deno.FsFile> | null = null;

  /** @param rootReal ROOT's real path */
  constructor(rootReal: string) {
    this.#rootReal = rootReal;
    this.#owners = path.join(rootReal, STATE_DIR, "owners");
  }

  /** The prefix of this session's temp file names. */
  get prefix(): string {
    return `${TEMP_PREFIX}w_${this.#session}_`;
  }

  /**
   * Creates and opens a new temp file in `directory` with `mode` (before the
   * umask): one file-system operation, where creating and then opening would
   * take two. Give it the final file's mode, so the rename needs no chmod.
   */
  async open(directory: string, mode = 0o600): Promise<TempFile> {
    await this.#claim();
    for (;;) {
      const tempPath = path.join(directory, this.prefix + randomHex(16));
      try {
        const options = { write: true, createNew: true, mode };
        const file = await directorySteps.run(
          () => Deno.openSync(tempPath, options),
          () => Deno.open(tempPath, options),
        );
        return { path: tempPath, file };
      } catch (error) {
        // A 128-bit random name collides only by a miracle; try another.
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
  }

  /**
   * Creates a new, empty temp directory in `directory` (the staging area of a
   * collection COPY, or where a replaced tree waits to be deleted), named
   * like a temp file, so that a crash leaves debris that
   * {@linkcode TempFiles.removeStale} removes.
   */
  async makeDirectory(directory: string): Promise<string> {
    await this.#claim();
    for (;;) {
      const tempPath = path.join(directory, this.prefix + randomHex(16));
      try {
        await Deno.mkdir(tempPath, { mode: 0o700 });
        return tempPath;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
  }

  /**
   * Removes every temp file under ROOT that no live writer owns (its
   * session's owner file is gone or lockable; for names without a session,
   * unwritten for {@linkcode UNOWNED_TEMP_AGE_MS}), except resumable uploads,
   * and the owner files of dead sessions. Returns the temp files removed.
   */
  async removeStale(): Promise<string[]> {
    const removed: string[] = [];
    const verdicts = new Map<string, Promise<boolean>>();
    const abandoned = (session: string) => {
      let verdict = verdicts.get(session);
      if (verdict === undefined) {
        verdict = session === this.#session ? Promise.resolve(false) : this.#isGone(session);
        verdicts.set(session, verdict);
      }
      return verdict;
    };
    for await (const { directory, entries } of directoriesUnder(this.#rootReal)) {
      for (const entry of entries) {
        if (!entry.name.startsWith(TEMP_PREFIX)) continue;
        const session = OWNED_NAME.exec(entry.name)?.[1];
        // A temp directory (see makeDirectory) always has an owner.
        const ownedDirectory = entry.isDirectory && session !== undefined;
        if (
          !(entry.isFile || ownedDirectory) ||
          // Resumable uploads outlive a restart; ResumableUploads removes its own expired ones.
          entry.name.startsWith(UPLOAD_TEMP_PREFIX) || entry.name === PROPERTIES_FILE
        ) continue;
        const fullPath = path.join(directory, entry.name);
        try {
          const gone = session !== undefined
            ? await abandoned(session)
            : Date.now() - ((await Deno.lstat(fullPath)).mtime?.getTime() ?? 0) >
              UNOWNED_TEMP_AGE_MS;
          if (gone && await removeIfThere(fullPath, ownedDirectory)) removed.push(fullPath);
        } catch {
          // Not ours to remove, or unreadable: leave it.
        }
      }
    }
    // Dead sessions that left no temp file behind still leave their owner file.
    for (const entry of await Array.fromAsync(Deno.readDir(this.#owners)).catch(() => [])) {
      if (entry.isFile) await abandoned(entry.name).catch(() => false);
    }
    return removed;
  }

  /** Gives up the claim: the owner file is removed and unlocked. */
  async close(): Promise<void> {
    const owner = this.#owner;
    this.#owner = null;
    if (owner === null) return;
    const file = await owner.catch(() => null);
    if (file === null) return;
    await removeIfThere(path.join(this.#owners, this.#session)).catch(() => false);
    file.close(); // Closing drops the lock.
  }

  /** Creates and locks this session's owner file, once. */
  #claim(): Promise<Deno.FsFile> {
    this.#owner ??= (async () => {
      await Deno.mkdir(this.#owners, { recursive: true });
      const file = await Deno.open(path.join(this.#owners, this.#session), {
        read: true,
        write: true,
        createNew: true,
      });
      await file.lock(true);
      return file;
    })();
    const claim = this.#owner;
    claim.catch(() => {
      if (this.#owner === claim) this.#owner = null; // Let the next write try again.
    });
    return claim;
  }

  /**
   * Whether `session` is dead: its owner file is gone, or can be locked (its
   * process no longer holds it). A dead session's owner file is removed.
   */
  async #isGone(session: string): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path.join(this.#owners, session), { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return true;
      throw error;
    }
    try {
      if (!(await file.tryLock(true))) return false;
      await removeIfThere(path.join(this.#owners, session));
      return true;
    } finally {
      file.close();
    }
  }
}
