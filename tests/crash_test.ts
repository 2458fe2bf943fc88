/**
 * Crash safety of uploads (scripts/crash_test.ts at a small size): a real
 * `deno run main.ts` process is SIGKILLed during concurrent PUTs and
 * restarted; every file must hold its old or one complete new content, every
 * acknowledged PUT must have survived, and no temp file may be left.
 *
 * A SIGKILL keeps the page cache, so this proves atomic replacement and the
 * clean-up at start-up, not durability across a power loss.
 */

import assert from "node:assert/strict";
import {
  judgeFile,
  labelledBytes,
  runCrashTest,
  SETTLED_PUTS,
  sha256Hex,
  STALLED_PUTS,
} from "../scripts/crash_test.ts";
import type { FileVerdict, PutRecord } from "../scripts/crash_test.ts";
import { createPrng } from "../scripts/soak/prng.ts";

const KiB = 1024;

Deno.test("createPrng repeats for a seed and differs between seeds", () => {
  const take = (seed: number) => {
    const next = createPrng(seed);
    return Array.from({ length: 5 }, next);
  };
  assert.deepEqual(take(7), take(7));
  assert.notDeepEqual(take(7), take(8));
  for (const value of take(9)) assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 32);
});

Deno.test("labelledBytes starts with its label and has the asked length", () => {
  const bytes = labelledBytes("round 1 put 2\n", 1001, 5);
  assert.equal(bytes.length, 1001);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 14)), "round 1 put 2\n");
  assert.deepEqual(labelledBytes("a", 64, 5), labelledBytes("a", 64, 5));
  assert.notEqual(sha256Hex(labelledBytes("a", 64, 5)), sha256Hex(labelledBytes("b", 64, 5)));
});

Deno.test("judgeFile accepts old or new contents and catches torn and lost writes", () => {
  const put = (sha256: string, startedAt: number, ackedAt: number | null): PutRecord => ({
    file: "f",
    sha256,
    startedAt,
    ackedAt,
  });
  const cases: [string, PutRecord[], string | null, FileVerdict][] = [
    ["untouched, nothing sent", [], "old", { ok: true, holds: "previous" }],
    ["untouched, nothing acknowledged", [put("a", 0, null)], "old", {
      ok: true,
      holds: "previous",
    }],
    ["an unacknowledged body landed", [put("a", 0, null)], "a", { ok: true, holds: "new" }],
    ["the acknowledged body", [put("a", 0, 5)], "a", { ok: true, holds: "new" }],
    [
      "a concurrent unacknowledged PUT renamed after the acknowledged one",
      [put("a", 0, 5), put("b", 1, null)],
      "b",
      { ok: true, holds: "new" },
    ],
    [
      "two overlapping acknowledged PUTs, either may be last",
      [put("a", 0, 10), put("b", 5, 12)],
      "a",
      { ok: true, holds: "new" },
    ],
    ["missing", [], null, { ok: false, reason: "the file is missing" }],
    [
      "a torn or foreign content",
      [put("a", 0, null)],
      "torn",
      { ok: false, reason: "holds neither its previous content nor any body sent to it" },
    ],
    [
      "an acknowledged PUT lost",
      [put("a", 0, 5)],
      "old",
      { ok: false, reason: "holds its previous content after 1 acknowledged PUT(s)" },
    ],
    [
      "a body acknowledged before a later acknowledged PUT began",
      [put("a", 0, 5), put("b", 6, 9)],
      "a",
      {
        ok: false,
        reason: "holds a body that a later acknowledged PUT replaced (a lost acknowledged write)",
      },
    ],
  ];
  for (const [name, puts, actual, expected] of cases) {
    assert.deepEqual(judgeFile("old", puts, actual), expected, name);
  }
});

Deno.test("SIGKILL during 100 concurrent PUTs, 3 times: old or new content, acknowledged writes kept, temps removed", async () => {
  const { rounds, violations } = await runCrashTest({
    rounds: 3,
    puts: 100,
    files: 12,
    concurrency: 100,
    minBytes: 16 * KiB,
    maxBytes: 256 * KiB,
    seed: 20_240_601,
    fsync: true,
  });
  assert.deepEqual(violations, []);
  assert.equal(rounds.length, 3);
  for (const round of rounds) {
    // Settled and stalled uploads make sure each round checks durability and clean-up.
    assert.ok(round.acknowledged >= SETTLED_PUTS, `round ${round.round} acknowledged`);
    assert.ok(round.inFlightAtKill >= STALLED_PUTS, `round ${round.round} in flight`);
    assert.ok(round.tempsLeftByCrash >= STALLED_PUTS, `round ${round.round} temp files`);
    assert.equal(round.tempsRemovedAtRestart, round.tempsLeftByCrash);
    assert.equal(round.filesAtPrevious + round.filesAtNew, 12);
  }
});
