/**
 * Memory goal (scripts/memory_check.ts at suite size): a 1 GiB PUT and a
 * 1 GiB GET through a spawned `deno run main.ts` keep the server's resident
 * memory under 150 MB. `deno task memory-check` runs 2 GiB.
 */

import assert from "node:assert/strict";
import {
  memoryCheckProblems,
  phasePeakBytes,
  readStatusBytes,
  RSS_LIMIT_BYTES,
  runMemoryCheck,
} from "../scripts/memory_check.ts";
import type { MemoryCheckResult, PhaseResult } from "../scripts/memory_check.ts";

const GiB = 1024 ** 3;

/**
 * The memory check samples /proc/PID/status, which only Linux has; CI also
 * runs on macOS and Windows, where these tests report "ignored".
 */
const NO_PROC = Deno.build.os !== "linux";

Deno.test({
  name:
    "readStatusBytes reads VmRSS of a live process in bytes, null for an absent field (Linux: reads /proc)",
  ignore: NO_PROC,
  fn: async () => {
    const rss = await readStatusBytes(Deno.pid, "VmRSS");
    assert.ok(rss !== null && rss > 1e6 && rss % 1024 === 0, `VmRSS ${rss}`);
    assert.equal(await readStatusBytes(Deno.pid, "NoSuchField"), null);
  },
});

Deno.test("memoryCheckProblems flags a peak at the limit, a short body and a digest mismatch", () => {
  const phase = (status: number, peak: number, highWater: number | null): PhaseResult => ({
    status,
    seconds: 1,
    bytesPerSecond: 1,
    sampledPeakBytes: peak,
    samples: 20,
    highWaterBytes: highWater,
  });
  const good: MemoryCheckResult = {
    idleRssBytes: 50e6,
    put: phase(201, 60e6, 61e6),
    get: phase(200, 70e6, null),
    sentSha256: "abc=",
    storedDigest: "sha-256=:abc=:",
    receivedBytes: 100,
    receivedSha256: "abc=",
  };
  assert.deepEqual(memoryCheckProblems(good, 100, RSS_LIMIT_BYTES), []);
  assert.equal(phasePeakBytes(good.put), 61e6);
  assert.equal(phasePeakBytes(good.get), 70e6);
  const bad: MemoryCheckResult = {
    ...good,
    put: phase(201, 60e6, RSS_LIMIT_BYTES),
    storedDigest: "sha-256=:xyz=:",
    receivedBytes: 99,
    receivedSha256: "xyz=",
  };
  assert.deepEqual(memoryCheckProblems(bad, 100, RSS_LIMIT_BYTES), [
    "PUT Repr-Digest sha-256=:xyz=: differs from the body sent",
    "GET returned 99 bytes, not 100",
    "GET returned other bytes",
    "server RSS reached 150.0 MB during the PUT",
  ]);
});

Deno.test({
  name: "a 1 GiB PUT and a 1 GiB GET keep the server under 150 MB resident (Linux: reads /proc)",
  ignore: NO_PROC,
  fn: async () => {
    const result = await runMemoryCheck({ bytes: GiB, fsync: true });
    assert.deepEqual(memoryCheckProblems(result, GiB, RSS_LIMIT_BYTES), []);
    // Sampling every 50 ms must have seen the whole transfer, not one moment.
    assert.ok(result.put.samples >= 5 && result.get.samples >= 5, "enough RSS samples");
    for (const phase of [result.put, result.get]) {
      assert.ok(phasePeakBytes(phase) < RSS_LIMIT_BYTES);
    }
  },
});
