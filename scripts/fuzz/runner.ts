/**
 * `deno task fuzz`: cases against a spawned server for a time budget, every
 * input also run through the differential oracles; failures saved with what
 * reproduces them; a hung or crashed server pinned to the case that did it.
 *
 * @module
 */

import { DEVIATIONS } from "../../tests/differential_deviations.ts";
import { escapeBinary, toBinary } from "./bytes.ts";
import { healthCheck, runBatch, runCase, sleep } from "./client.ts";
import type { CaseOutcome } from "./client.ts";
import { copyTree, keep, listTree, spawnServer } from "./child_server.ts";
import type { ChildServer } from "./child_server.ts";
import { describeFinding, runDifferential } from "./differential.ts";
import type { DifferentialReport } from "./differential.ts";
import { generateCase } from "./generate.ts";
import { FUZZ_LIMITS } from "./limits.ts";
import { modelStream } from "./model.ts";
import type { Oracle } from "./oracles.ts";

/** A failing case, or a server-wide failure pinned to the case that caused it. */
interface Failure {
  /** The case number. */
  index: number;
  /** How the input was made (or "batch", "differential: …"). */
  kind: string;
  /** What is wrong, one line each. */
  problems: string[];
  /** The bytes sent. */
  input: Uint8Array;
  /** How the bytes were split into writes. */
  pieceLengths: number[];
  /** Whether the client half-closed after the last write. */
  closeWrite: boolean;
  /** What the server sent back. */
  output: Uint8Array;
  /** The ROOT the culprit was replayed over, when it took a replay to pin it down. */
  root?: string;
}

function toFailure(outcome: CaseOutcome, problems: string[]): Failure {
  const c = outcome.fuzzCase;
  return {
    index: c.index,
    kind: c.kind,
    problems,
    input: c.bytes,
    pieceLengths: c.pieces.map((piece) => piece.length),
    closeWrite: c.closeWrite,
    output: outcome.output,
  };
}

async function saveFailure(dir: string, seed: number, failure: Failure): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir}/seed-${seed}-case-${failure.index}`;
  await Deno.writeFile(`${base}.bin`, failure.input);
  if (failure.root !== undefined) {
    await Deno.remove(`${base}.root`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${base}.root`);
    await copyTree(failure.root, `${base}.root`);
  }
  await Deno.writeTextFile(
    `${base}.json`,
    JSON.stringify(
      {
        seed,
        case: failure.index,
        reproduce: `deno task fuzz -- --seed ${seed} --case ${failure.index}`,
        kind: failure.kind,
        problems: failure.problems,
        pieceLengths: failure.pieceLengths,
        closeWrite: failure.closeWrite,
        input: escapeBinary(toBinary(failure.input), 20_000),
        output: escapeBinary(toBinary(failure.output), 20_000),
        files: failure.root === undefined ? undefined : await listTree(failure.root),
      },
      null,
      2,
    ),
  );
  return `${base}.bin`;
}

/**
 * Probes `GET /` every second while a batch runs; two misses in a row mean a
 * hung server, and the batch should start no more cases.
 */
function watchLiveness(port: number): { hung: () => boolean; stop: () => Promise<void> } {
  let hung = false;
  let running = true;
  const probing = (async () => {
    let misses = 0;
    while (running && !hung) {
      await sleep(1000);
      if (!running) break;
      misses = (await healthCheck(port, 2000)) === 200 ? 0 : misses + 1;
      hung = misses >= 2;
    }
  })();
  return {
    hung: () => hung,
    stop: async () => {
      running = false;
      await probing;
    },
  };
}

/** What is wrong with the server as a whole after some cases, or null. */
async function serverTrouble(server: ChildServer, errorsBefore: number): Promise<string | null> {
  if (server.exited()) return `the server exited: ${server.stderr.slice(-20).join("\n")}`;
  const health = await healthCheck(server.port, 3000);
  if (health !== 200) return `GET / afterwards gave ${health} (a hung or broken server)`;
  await sleep(20);
  const errors = server.errors.slice(errorsBefore);
  return errors.length === 0 ? null : `onError: ${errors.join(" | ")}`;
}

/**
 * Replays cases in order, one at a time, on a fresh server, checking the
 * server after each: the first one after which it is in trouble is the
 * culprit (it may need the files the cases before it made). `report` sees
 * every case as it is replayed.
 */
async function isolate(
  seed: number,
  indexes: number[],
  template?: string,
  report: (outcome: CaseOutcome, trouble: string | null) => void = () => {},
): Promise<Failure | null> {
  const server = await spawnServer(template);
  try {
    for (const index of indexes) {
      const fuzzCase = generateCase(seed, index, server.port);
      const errorsBefore = server.errors.length;
      const outcome = await runCase(fuzzCase, server.port, FUZZ_LIMITS, 5000);
      const trouble = await serverTrouble(server, errorsBefore);
      report(outcome, trouble);
      if (trouble !== null) {
        const before = index === indexes[0]
          ? ""
          : ` (replayed after ${indexes.indexOf(index)} earlier case(s) from ${indexes[0]})`;
        return toFailure(outcome, [`${trouble}${before}`, ...outcome.verdict.problems]);
      }
    }
    return null;
  } finally {
    await server.stop();
  }
}

/** The differential findings of a batch as failures (none when there are no oracles). */
async function differentialFailures(
  outcomes: CaseOutcome[],
  oracles: readonly Oracle[],
  excused: Map<string, number>,
): Promise<Failure[]> {
  if (oracles.length === 0 || outcomes.length === 0) return [];
  const report = await runDifferential(
    outcomes.map((outcome) => outcome.fuzzCase.bytes),
    oracles,
    DEVIATIONS,
    FUZZ_LIMITS,
  );
  for (const [row, n] of report.excused) excused.set(row, (excused.get(row) ?? 0) + n);
  return report.findings.map((finding) => {
    const outcome = outcomes[finding.index];
    const failure = toFailure(outcome, [
      `an unexcused parser disagreement (fix lib/http/ or add a row to ` +
      `tests/differential_deviations.ts):\n${describeFinding(finding, 1000)}`,
    ]);
    failure.kind = `differential, ${failure.kind}`;
    return failure;
  });
}

/** Prints what each oracle and our parser made of one input, and how they differ. */
async function printDifferential(bytes: Uint8Array, oracles: readonly Oracle[]): Promise<boolean> {
  if (oracles.length === 0) return true;
  const report: DifferentialReport = await runDifferential(
    [bytes],
    oracles,
    DEVIATIONS,
    FUZZ_LIMITS,
  );
  for (const oracle of oracles) {
    const found = report.disagreements.find((d) => d.context.oracle === oracle.name);
    if (found === undefined) console.log(`--- ${oracle.name}: agrees`);
    else {
      const verdict = found.row === null ? "NOT EXCUSED" : `excused by ${found.row.id}`;
      console.log(`--- ${oracle.name}: ${verdict}\n${describeFinding(found, 0)}`);
    }
  }
  return report.findings.length === 0;
}

/** Prints a replayed case in full. */
function printCase(outcome: CaseOutcome, trouble: string | null): void {
  const c = outcome.fuzzCase;
  console.log(
    `=== case ${c.index} (${c.kind}), pieces ${c.pieces.map((p) => p.length).join("+")}, ` +
      `pause ${c.pauseMs} ms, closeWrite ${c.closeWrite}`,
  );
  console.log(escapeBinary(toBinary(c.bytes), 4000));
  console.log(`--- model: ${JSON.stringify(modelStream(c.bytes, FUZZ_LIMITS))}`);
  console.log(`--- output:\n${escapeBinary(toBinary(outcome.output), 4000)}`);
  const problems = [...outcome.verdict.problems, ...(trouble === null ? [] : [trouble])];
  console.log(`--- ${problems.length === 0 ? "fine" : problems.join("; ")}`);
}

/** `200×5 404×2`: counts by key, in key order. */
function histogram(counts: Map<number | string, number>): string {
  return [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([key, n]) => `${key}×${n}`)
    .join(" ");
}

/** `--case N` or `--case A-B`: the case numbers to replay. */
export function caseRange(text: string): number[] {
  const [from, to = from] = text.split("-").map(Number);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Options of {@linkcode fuzz}. */
export interface FuzzOptions {
  /** The run's seed. */
  seed: number;
  /** The time budget. */
  seconds: number;
  /** Connections at a time. */
  concurrency: number;
  /** Cases per batch (the unit of liveness checks and of isolation). */
  batchSize: number;
  /** Where failing inputs are saved. */
  out: string;
  /** The differential oracles (none: the differential check is skipped). */
  oracles: readonly Oracle[];
}

/**
 * Fuzzes a spawned server for `options.seconds`, batch by batch, and every
 * input through the differential oracles; prints a summary and the failures
 * (saved under `options.out`). Returns the exit status.
 */
export async function fuzz(options: FuzzOptions): Promise<number> {
  const { seed, concurrency, batchSize, oracles } = options;
  const excused = new Map<string, number>();
  let server = await spawnServer();
  console.log(
    `fuzzing a server (pid ${server.pid}, port ${server.port}) for ${options.seconds} s: ` +
      `seed ${seed}, ${concurrency} connections at a time, batches of ${batchSize}, ` +
      (oracles.length === 0 ? "no oracles" : `against ${oracles.map((o) => o.name).join(", ")}`),
  );
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const statuses = new Map<number, number>();
  const failures: Failure[] = [];
  let total = 0;
  let peakRss = 0;
  let lastReport = started;
  // ROOT as each batch finds it, so that a culprit is replayed over the same files.
  const snapshot = await Deno.makeTempDir({ prefix: "filedrop-fuzz-snapshot-" });
  try {
    while (Date.now() < deadline && failures.length < 20) {
      await Deno.remove(snapshot, { recursive: true });
      await Deno.mkdir(snapshot);
      await copyTree(server.root, snapshot);
      const errorsBefore = server.errors.length;
      const liveness = watchLiveness(server.port);
      const outcomes = await runBatch(
        seed,
        Array.from({ length: batchSize }, (_, i) => total + i),
        server.port,
        { limits: FUZZ_LIMITS, concurrency, readTimeoutMs: 5000, abort: liveness.hung },
      );
      await liveness.stop();
      // Cases are started in order, so the ones run are the first of the batch.
      const indexes = Array.from({ length: outcomes.length }, (_, i) => total + i);
      total += outcomes.length;
      peakRss = Math.max(peakRss, server.peakRssKb() ?? 0);
      const trouble = await serverTrouble(server, errorsBefore);
      if (trouble !== null) {
        // Every case in flight suffers from a hung or crashed server: find the one that did it.
        console.log(
          `  cases ${indexes[0]}-${indexes.at(-1)}: ${trouble.slice(0, 300)}; isolating…`,
        );
        // The culprit is likely one of the cases left unanswered. Other connections may go on
        // changing files while one is stuck, so try the files both before and after the batch,
        // and only then every case of the batch in order.
        const atTrouble = await Deno.makeTempDir({ prefix: "filedrop-fuzz-snapshot-" });
        await copyTree(server.root, atTrouble);
        await server.stop();
        const suspects = outcomes.filter((o) => o.verdict.problems.length > 0)
          .map((o) => o.fuzzCase.index).sort((a, b) => a - b);
        let culprit: Failure | null = null;
        for (
          const [cases, root] of [[suspects, snapshot], [suspects, atTrouble], [
            indexes,
            snapshot,
          ]] as const
        ) {
          culprit = await isolate(seed, cases, root);
          if (culprit !== null) {
            culprit.root = await keep(root);
            break;
          }
        }
        await Deno.remove(atTrouble, { recursive: true });
        failures.push(
          culprit === null
            ? {
              index: indexes[0],
              kind: "batch",
              problems: [
                `${trouble} in cases ${indexes[0]}-${indexes.at(-1)}, not reproduced one by one`,
              ],
              input: new Uint8Array(),
              pieceLengths: [],
              closeWrite: false,
              output: new Uint8Array(),
            }
            : culprit,
        );
        server = await spawnServer();
      } else {
        for (const outcome of outcomes) {
          if (outcome.verdict.problems.length > 0) {
            failures.push(toFailure(outcome, outcome.verdict.problems));
          }
        }
      }
      failures.push(...await differentialFailures(outcomes, oracles, excused));
      for (const outcome of outcomes) {
        for (const response of outcome.verdict.responses) {
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const elapsed = (lastReport - started) / 1000;
        console.log(
          `  ${elapsed.toFixed(0)} s: ${total} inputs, ${(total / elapsed).toFixed(0)}/s, ` +
            `${failures.length} failure(s)`,
        );
      }
    }
  } finally {
    await server.stop();
    await Deno.remove(snapshot, { recursive: true });
  }
  const elapsed = (Date.now() - started) / 1000;
  console.log(
    `done: ${total} inputs in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(0)}/s)` +
      (peakRss === 0 ? "" : `, server peak RSS ${(peakRss / 1024).toFixed(0)} MiB`),
  );
  console.log(`statuses: ${histogram(statuses)}`);
  if (oracles.length > 0) {
    console.log(`oracles: ${oracles.map((o) => o.version).join(", ")}`);
    console.log(`excused disagreements: ${histogram(excused) || "none"}`);
  }
  for (const failure of failures) {
    console.log(`FAIL case ${failure.index} (${failure.kind}): ${failure.problems.join("; ")}`);
    if (failure.input.length > 0) {
      const file = await saveFailure(options.out, seed, failure);
      console.log(`  input saved to ${file}`);
      const root = failure.root === undefined ? "" : ` --root ${file.replace(/\.bin$/, ".root")}`;
      console.log(`  reproduce: deno task fuzz -- --seed ${seed} --case ${failure.index}${root}`);
    }
    if (failure.root !== undefined) await Deno.remove(failure.root, { recursive: true });
  }
  console.log(failures.length === 0 ? "no failures" : `${failures.length} failure(s)`);
  return failures.length === 0 ? 0 : 1;
}

/**
 * Replays cases in order on a fresh server (over a copy of `root` when
 * given), printing each in full with what every oracle made of it. Returns
 * the exit status.
 */
export async function replay(
  seed: number,
  indexes: number[],
  root: string | undefined,
  oracles: readonly Oracle[],
): Promise<number> {
  const outcomes: [CaseOutcome, string | null][] = [];
  // A range rebuilds the files earlier cases made.
  await isolate(seed, indexes, root, (outcome, trouble) => outcomes.push([outcome, trouble]));
  let failed = false;
  for (const [outcome, trouble] of outcomes) {
    printCase(outcome, trouble);
    const agreed = await printDifferential(outcome.fuzzCase.bytes, oracles);
    failed ||= trouble !== null || outcome.verdict.problems.length > 0 || !agreed;
  }
  return failed ? 1 : 0;
}

/**
 * The differential check alone, without a server: inputs of the run seeded
 * `seed` (numbered as the server runs number them) through our parser and the
 * oracles for `seconds`. Much faster than a server run. Returns the exit status.
 */
export async function fuzzParsers(
  seed: number,
  seconds: number,
  batchSize: number,
  oracles: readonly Oracle[],
): Promise<number> {
  console.log(
    `fuzzing the parser against ${oracles.map((o) => o.version).join(", ")} for ${seconds} s: ` +
      `seed ${seed}`,
  );
  const started = Date.now();
  const excused = new Map<string, number>();
  const agreed = new Map<string, number>();
  let total = 0;
  let failures = 0;
  while (Date.now() < started + seconds * 1000 && failures < 20) {
    const inputs = Array.from({ length: batchSize }, (_, i) => generateCase(seed, total + i, 8080));
    const report = await runDifferential(
      inputs.map((input) => input.bytes),
      oracles,
      DEVIATIONS,
      FUZZ_LIMITS,
    );
    for (const [row, n] of report.excused) excused.set(row, (excused.get(row) ?? 0) + n);
    for (const [name, n] of report.agreed) agreed.set(name, (agreed.get(name) ?? 0) + n);
    for (const finding of report.findings) {
      failures++;
      const index = total + finding.index;
      console.log(`FAIL case ${index} (${inputs[finding.index].kind}):`);
      console.log(describeFinding({ ...finding, index }, 2000));
      console.log(`  reproduce: deno task fuzz -- --seed ${seed} --case ${index}`);
    }
    total += inputs.length;
  }
  const elapsed = (Date.now() - started) / 1000;
  console.log(`done: ${total} inputs in ${elapsed.toFixed(1)} s`);
  console.log(`agreed entirely: ${histogram(agreed)}`);
  console.log(`excused disagreements: ${histogram(excused) || "none"}`);
  console.log(failures === 0 ? "no failures" : `${failures} failure(s)`);
  return failures === 0 ? 0 : 1;
}
