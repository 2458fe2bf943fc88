/**
 * A registry of child processes to stop if the harness ends early (an error
 * or Ctrl-C), so that no server or wrk outlives a benchmark session.
 *
 * @module
 */

const liveStoppers = new Set<() => Promise<void>>();

/**
 * Registers a way to stop a child process, until the returned function is called.
 *
 * @param stop stops the process and resolves once it is gone
 * @returns unregisters `stop`
 */
export function trackChild(stop: () => Promise<void>): () => void {
  liveStoppers.add(stop);
  return () => liveStoppers.delete(stop);
}

/** Stops every child still registered. Safe to call more than once. */
export async function stopAllChildren(): Promise<void> {
  await Promise.allSettled([...liveStoppers].map((stop) => stop()));
}
