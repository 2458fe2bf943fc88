/**
 * An in-process mutex per key, so that check-then-act sequences on one path
 * (a precondition check and a rename) never interleave.
 *
 * @module
 */

/**
 * Runs critical sections one at a time per key.
 *
 * @example
 * ```ts
 * const locks = new KeyedLock();
 * await locks.run("/srv/a.txt", async () => { ... });
 * ```
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` once every earlier task for `key` has settled. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
