/**
 * Tests of QuickSteps (lib/storage/quick_steps.ts): steps run synchronously
 * while they are quick, a slow one sends the next ones to the asynchronous
 * form, errors come through either form unchanged, and uploads through the
 * real server still land whichever form ran.
 *
 * @module
 */

import assert from "node:assert/strict";
import { OFF_LOOP_MS, QuickSteps, SLOW_STEP_MS } from "../lib/storage/quick_steps.ts";

/** Keeps the thread busy for `ms`, as a synchronous step waiting on a slow disk would. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Spinning on purpose: the point is a step that holds the event loop.
  }
}

Deno.test("quick steps run synchronously, one after another", async () => {
  const steps = new QuickSteps();
  const ran: string[] = [];
  for (let i = 0; i < 5; i++) {
    const value = await steps.run(() => {
      ran.push("quick");
      return i;
    }, () => {
      ran.push("off-loop");
      return Promise.resolve(i);
    });
    assert.equal(value, i);
  }
  assert.deepEqual(ran, ["quick", "quick", "quick", "quick", "quick"]);
  assert.equal(steps.offLoop, false);
});

Deno.test("a slow step sends the next ones off the event loop", async () => {
  const steps = new QuickSteps();
  const ran: string[] = [];
  const quick = (ms: number) => () => {
    ran.push("quick");
    busyFor(ms);
  };
  const offLoop = () => {
    ran.push("off-loop");
    return Promise.resolve();
  };
  await steps.run(quick(SLOW_STEP_MS * 2), offLoop);
  assert.equal(steps.offLoop, true);
  await steps.run(quick(0), offLoop);
  await steps.run(quick(0), offLoop);
  assert.deepEqual(ran, ["quick", "off-loop", "off-loop"]);
  assert.ok(OFF_LOOP_MS >= 1000, "the off-loop period outlasts a burst of requests");
});

Deno.test("a slow step that throws still counts as slow, and its error comes through", async () => {
  const steps = new QuickSteps();
  await assert.rejects(
    steps.run(() => {
      busyFor(SLOW_STEP_MS * 2);
      throw new Deno.errors.AlreadyExists("taken");
    }, () => Promise.resolve()),
    Deno.errors.AlreadyExists,
  );
  assert.equal(steps.offLoop, true);
  await assert.rejects(
    steps.run(() => undefined, () => Promise.reject(new Deno.errors.NotFound("gone"))),
    Deno.errors.NotFound,
  );
});

Deno.test("both forms of a real rename give the same result and the same error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const steps = new QuickSteps();
    await Deno.writeTextFile(`${dir}/a`, "a");
    await steps.run(
      () => Deno.renameSync(`${dir}/a`, `${dir}/b`),
      () => Deno.rename(`${dir}/a`, `${dir}/b`),
    );
    assert.equal(await Deno.readTextFile(`${dir}/b`), "a");
    await steps.run(() => busyFor(SLOW_STEP_MS * 2), () => Promise.resolve());
    assert.equal(steps.offLoop, true);
    await steps.run(
      () => Deno.renameSync(`${dir}/b`, `${dir}/c`),
      () => Deno.rename(`${dir}/b`, `${dir}/c`),
    );
    assert.equal(await Deno.readTextFile(`${dir}/c`), "a");
    await assert.rejects(
      steps.run(
        () => Deno.renameSync(`${dir}/b`, `${dir}/d`),
        () => Deno.rename(`${dir}/b`, `${dir}/d`),
      ),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
