/**
 * `filedrop healthcheck`: asks a running server for a page and says whether it
 * answered, for a container's HEALTHCHECK (the image has no shell or curl).
 *
 * @module
 */

/** How long the server has to answer before it counts as unhealthy. */
export const HEALTHCHECK_TIMEOUT_MS = 5_000;

/** What a health check found. */
export interface Health {
  /** The server answered with a status below 500. */
  healthy: boolean;
  /** One line for the user: the status, or why there was none. */
  detail: string;
}

/**
 * GETs `url` and calls the server healthy when it answers below 500: a 401
 * (`--auth-reads`) or a 404 (`--no-listing`) is a server at work.
 */
export async function checkHealth(
  url: string,
  timeoutMs: number = HEALTHCHECK_TIMEOUT_MS,
): Promise<Health> {
  try {
    const response = await fetch(url, {
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    const healthy = response.status < 500;
    return { healthy, detail: `${url} answered ${response.status}` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { healthy: false, detail: `${url} did not answer: ${reason}` };
  }
}
