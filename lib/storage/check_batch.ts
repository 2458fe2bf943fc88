/**
 * Coalesces identical synchronous checks (a `stat` of one path) asked for
 * during one run of the microtask queue into one, made after all of them
 * were asked.
 *
 * Under load, the requests whose bytes arrived together are parsed together,
 * and each used to `stat` the same file right after its own parse. Here a
 * check is queued instead and made once the microtasks already queued have
 * run: by then every request read in the same turn of the event loop has
 * asked for it, and one `stat` answers them all. Every request sharing it
 * asked before it was made, so what it saw is the state at a moment between
 * each request's arrival and its response (reads stay linearizable: a change
 * completed before a request arrived is always seen). Unlike a cache with a
 * lifetime, nothing outlives the batch.
 *
 * @module
 */

/** Runs `check(key)` at most once per key per batch; see the module doc. */
export class CheckBatch<K, V> {
  readonly #check: (key: K) => V;
  /**
   * The batch being gathered: a new map each time. A long-lived map would keep
   * its table in V8's old generation, and a cleared old table still points at
   * the batch's young promises and results, which the young-generation
   * collector must then keep and promote (measured: most of what survived it,
   * and the growth of the young generation under load).
   */
  #waiting: Map<K, PromiseWithResolvers<V>> | null = null;

  /** @param check the synchronous check (what it throws goes to that key's callers) */
  constructor(check: (key: K) => V) {
    this.#check = check;
  }

  /** The result of a check of `key` made after this call, shared with the batch's other callers. */
  check(key: K): Promise<V> {
    let batch = this.#waiting;
    if (batch === null) {
      batch = this.#waiting = new Map();
      queueMicrotask(() => this.#run());
    }
    let waiting = batch.get(key);
    if (waiting === undefined) {
      waiting = Promise.withResolvers<V>();
      batch.set(key, waiting);
    }
    return waiting.promise;
  }

  #run(): void {
    const batch = this.#waiting;
    this.#waiting = null;
    for (const [key, waiting] of batch ?? []) {
      // One check that throws fails its own callers only, never the rest of the batch.
      try {
        waiting.resolve(this.#check(key));
      } catch (error) {
        waiting.reject(error);
      }
    }
  }
}
