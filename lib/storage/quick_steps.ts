/**
 * Runs an upload's small directory-changing steps (create the temp file,
 * rename or link it into place) on the event loop while the disk answers
 * them quickly, and through Deno's blocking pool for a while after one was
 * slow.
 *
 * Why both: an async file-system op costs the event loop more than the step
 * itself when the disk is quick (measured for PUT 1 KiB: about 35% less CPU
 * per request with synchronous create and rename), but under disk contention
 * (a journal commit, other processes' fsyncs) one synchronous step can wait
 * milliseconds and stall every connection meanwhile (measured: a busy disk
 * cut PUT 1 KiB throughput by half). So a step that took longer than
 * {@linkcode SLOW_STEP_MS} sends the next ones off the loop for
 * {@linkcode OFF_LOOP_MS}: at most one stall per period, and quick steps
 * otherwise. The mode is a per-process hint, not shared state: workers and
 * instances may disagree without harm.
 *
 * @module
 */

/** A step that took longer than this (wall time) shows the disk is slow now. */
export const SLOW_STEP_MS = 10;

/** How long steps stay off the event loop after a slow one. */
export const OFF_LOOP_MS = 5_000;

/** Chooses, step by step, between the synchronous and the asynchronous form of one operation. */
export class QuickSteps {
  #offLoopUntil = 0;

  /** Whether the next step runs through the blocking pool (a slow step was seen recently). */
  get offLoop(): boolean {
    return performance.now() < this.#offLoopUntil;
  }

  /**
   * Runs `quick` (synchronous) while the disk is quick, else `offLoop`
   * (the same operation, asynchronous). Both must do the same thing and
   * throw the same errors.
   */
  async run<T>(quick: () => T, offLoop: () => Promise<T>): Promise<T> {
    const start = performance.now();
    if (start < this.#offLoopUntil) return await offLoop();
    try {
      return quick();
    } finally {
      const end = performance.now();
      if (end - start > SLOW_STEP_MS) this.#offLoopUntil = end + OFF_LOOP_MS;
    }
  }
}

/** The process's one instance: every ROOT here shares the machine's disks and its event loop. */
export const directorySteps: QuickSteps = new QuickSteps();
