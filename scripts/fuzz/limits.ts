/**
 * The limits the fuzzed server runs with, shared by the runner, the model
 * and the deviation table (whose size-limit rows check inputs against them).
 *
 * @module
 */

import { DEFAULT_LIMITS } from "../../lib/server/limits.ts";
import type { Limits } from "../../lib/server/limits.ts";

/** The server's default limits with short timeouts, so stalled inputs end fast, and 1 MiB bodies. */
export const FUZZ_LIMITS: Limits = {
  ...DEFAULT_LIMITS,
  headerTimeoutMs: 500,
  idleTimeoutMs: 500,
  bodyTimeoutMs: 500,
  maxBodyBytes: 1024 * 1024,
};
