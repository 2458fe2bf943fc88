/**
 * `deno task fuzz`: HTTP/1.1 fuzzing of filedrop, differential as in HTTP
 * Garden. Seeded generated and mutated requests go to a spawned server,
 * whose responses are checked against a model of how it must frame the
 * byte stream; every input also goes through Python's h11 and Node's llhttp,
 * and every disagreement with our parser must be excused by a row of
 * `tests/differential_deviations.ts`.
 *
 * ```sh
 * deno task fuzz -- --seconds 60 --seed 42             # a time-boxed run
 * deno task fuzz -- --seed 42 --case 1234              # replay one input, verbosely
 * deno task fuzz -- --seed 42 --case 1200-1234         # replay several in order
 * deno task fuzz -- --seed 42 --case 1234 --root DIR   # over a saved ROOT
 * deno task fuzz -- --parsers-only --seconds 60        # the differential alone, no server
 * deno task fuzz -- --no-oracles                       # without h11 and llhttp
 * ```
 *
 * Every input is regenerated from `(seed, index)` alone (the server's port
 * number aside), so a failure is reproduced by its seed and case number; its
 * bytes are also saved under `--out` (default `fuzz-failures/`). The oracles
 * need `/usr/bin/python3` with h11 (Debian: python3-h11) and `node` (nodejs).
 *
 * The pieces live in `scripts/fuzz/`: `grammar.ts`, `mutate.ts` and
 * `generate.ts` make inputs; `ours.ts`, `oracle_h11.py` and
 * `oracle_llhttp.mjs` trace them; `compare.ts` and `differential.ts` compare
 * the traces; `model.ts` and `check.ts` judge a server's responses;
 * `client.ts`, `child_server.ts` and `runner.ts` run it all.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startOracles } from "./fuzz/oracles.ts";
import type { Oracle } from "./fuzz/oracles.ts";
import { caseRange, fuzz, fuzzParsers, replay } from "./fuzz/runner.ts";

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string", default: "60" },
      seed: { type: "string" },
      case: { type: "string" },
      concurrency: { type: "string", default: "16" },
      batch: { type: "string", default: "500" },
      out: { type: "string", default: "fuzz-failures" },
      root: { type: "string" },
      "parsers-only": { type: "boolean", default: false },
      "no-oracles": { type: "boolean", default: false },
    },
  });
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  let oracles: Oracle[] = [];
  if (!values["no-oracles"]) {
    try {
      oracles = await startOracles();
    } catch (error) {
      console.error(`${error instanceof Error ? error.message : error}`);
      console.error("(run with --no-oracles to fuzz the server alone)");
      return 2;
    }
  }
  try {
    if (values["parsers-only"]) {
      if (oracles.length === 0) {
        console.error("--parsers-only needs the oracles");
        return 2;
      }
      return await fuzzParsers(seed, Number(values.seconds), Number(values.batch), oracles);
    }
    if (values.case !== undefined) {
      return await replay(seed, caseRange(values.case), values.root, oracles);
    }
    return await fuzz({
      seed,
      seconds: Number(values.seconds),
      concurrency: Number(values.concurrency),
      batchSize: Number(values.batch),
      out: values.out,
      oracles,
    });
  } finally {
    await Promise.all(oracles.map((oracle) => oracle.close()));
  }
}

// `deno task fuzz -- --seconds 60` passes the `--` on.
if (import.meta.main) Deno.exit(await main(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args));
