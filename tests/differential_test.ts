/**
 * The differential check (HTTP Garden style): generated inputs and a corpus
 * of request-smuggling shapes go through our parser, Python's h11 and Node's
 * llhttp; every disagreement on accept/reject, method, target, version,
 * framing, body bytes, persistence or where the next request starts must be
 * excused by a row of `tests/differential_deviations.ts`. The table's rows
 * are checked against their own examples, and the check itself must catch
 * planted parser bugs.
 *
 * Needs `/usr/bin/python3` with h11 and `node` (Debian: python3-h11, nodejs);
 * without them the tests fail, saying so.
 *
 * @module
 */

import assert from "node:assert/strict";
import { escapeBinary, toBinary, toBytes } from "../scripts/fuzz/bytes.ts";
import { firstDisagreement } from "../scripts/fuzz/compare.ts";
import { classify, describeFinding, runDifferential } from "../scripts/fuzz/differential.ts";
import type { DeviationContext } from "../scripts/fuzz/differential.ts";
import { viewRequest } from "../scripts/fuzz/evidence.ts";
import { generateInput } from "../scripts/fuzz/generate.ts";
import { FUZZ_LIMITS } from "../scripts/fuzz/limits.ts";
import { Oracle, OracleUnavailableError, startOracles } from "../scripts/fuzz/oracles.ts";
import { traceOurs } from "../scripts/fuzz/ours.ts";
import { Random } from "../scripts/fuzz/random.ts";
import { DEVIATIONS } from "./differential_deviations.ts";

/** Fixed, so that a failure here is a failure on every run; `deno task fuzz` explores others. */
const SEED = 0x9a4de;
const GENERATED = 3000;

/** Runs `fn` with the oracles started (which fails, saying what to install, without them). */
async function withOracles<T>(fn: (oracles: Oracle[]) => Promise<T>): Promise<T> {
  const oracles = await startOracles();
  try {
    return await fn(oracles);
  } finally {
    await Promise.all(oracles.map((oracle) => oracle.close()));
  }
}

function unexcused(findings: string[], total: number, oracles: Oracle[]): string {
  return `${total} disagreement(s) no row of tests/differential_deviations.ts excuses ` +
    `(fix lib/http/, or add a row with its RFC clause; the table was written against ` +
    `h11 0.14.0 and llhttp 9.3.1, these are ${oracles.map((o) => o.version).join(", ")}):\n` +
    findings.join("\n\n");
}

Deno.test(`differential: ${GENERATED} generated inputs agree with h11 and llhttp, or are excused`, async () => {
  const random = new Random(SEED);
  const inputs = Array.from({ length: GENERATED }, () => generateInput(random, 8080).bytes);
  const [report, oracles] = await withOracles(async (oracles) =>
    [await runDifferential(inputs, oracles, DEVIATIONS, FUZZ_LIMITS), oracles] as const
  );
  const findings = report.findings.slice(0, 5).map((finding) => describeFinding(finding));
  assert.deepEqual(findings, [], unexcused(findings, report.findings.length, oracles));
  // The comparison must have bite: most inputs agree in full, and many classes were excused.
  for (const [name, agreed] of report.agreed) {
    assert.ok(agreed > GENERATED * 0.6, `${name} agreed on only ${agreed} of ${GENERATED}`);
  }
  assert.ok(report.excused.size >= 15, `only ${[...report.excused.keys()]} excused`);
});

// ---------------------------------------------------------------------------
// A corpus of request-smuggling shapes, each followed by a second request so
// that where the first one ends shows.

const NEXT = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

/** Values for a framing field, obfuscated the ways smuggling research found to matter. */
const TE_VALUES = [
  "chunked",
  "CHUNKED",
  " chunked",
  "chunked ",
  "\tchunked\t",
  "\xa0chunked",
  "chunked\xa0",
  "\x0bchunked",
  "\x0cchunked",
  "\x85chunked",
  "chunk\x00ed",
  "chunked, identity",
  "identity, chunked",
  "gzip, chunked",
  "chunked;",
  "chunked; q=1",
  '"chunked"',
  ", chunked",
  "chunked,",
  "chunked,,",
  "x chunked",
  "chunkedchunked",
];

const TE_NAMES = [
  "Transfer-Encoding",
  "transfer-encoding",
  "Transfer_Encoding",
  "Transfer-Encoding ",
  " Transfer-Encoding",
  "Transfer-Encoding\x00",
  "Transfer-\xa0Encoding",
  "X-Transfer-Encoding",
];

const CL_VALUES = [
  "5",
  "05",
  "+5",
  "-5",
  "5 ",
  " 5",
  "\t5",
  "5\x00",
  "0x5",
  "5.0",
  "5,5",
  "5, 5",
  "5, 6",
  "5e0",
  "\xa05",
  "",
];

const CHUNK_SIZES = [
  "5",
  "05",
  "0x5",
  "5 ",
  " 5",
  "5\t",
  "5;",
  "5;a",
  "5 ;a",
  '5;a="b"',
  '5;a="b',
  "5;a b",
  "5\x00",
  "-5",
  "+5",
  "5\r",
  "00000000000000000000005",
  "fffffffffffffffff5",
];

const REQUEST_LINES = [
  "GET / HTTP/1.1",
  "GET / HTTP/1.1 ",
  "GET / HTTP/1.1\t",
  "GET\t/ HTTP/1.1",
  "GET /\tHTTP/1.1",
  "GET  / HTTP/1.1",
  " GET / HTTP/1.1",
  "GET / HTTP/1.01",
  "GET / HTTP/01.1",
  "GET / HTTP/1.1x",
  "GET / http/1.1",
  "GET / HTTP/1.2",
  "GET / HTTP/2.0",
  "GET /\x00 HTTP/1.1",
  "GET /\x7f HTTP/1.1",
  "GET /\xff HTTP/1.1",
  "GET http://a/ HTTP/1.1",
  "GET http://a@b/ HTTP/1.1",
  "GET a HTTP/1.1",
  "OPTIONS * HTTP/1.1",
  "GET * HTTP/1.1",
  "CONNECT a:1 HTTP/1.1",
];

/** The corpus: framing fields, chunk sizes and request lines in their odd forms. */
function smugglingCorpus(): string[] {
  const corpus: string[] = [];
  const start = "POST / HTTP/1.1\r\nHost: a\r\n";
  const chunked = `5\r\nhello\r\n0\r\n\r\n`;
  for (const value of TE_VALUES) {
    corpus.push(`${start}Transfer-Encoding: ${value}\r\n\r\n${chunked}${NEXT}`);
    corpus.push(
      `${start}Content-Length: 5\r\nTransfer-Encoding: ${value}\r\n\r\n${chunked}${NEXT}`,
    );
    corpus.push(`POST / HTTP/1.0\r\nTransfer-Encoding: ${value}\r\n\r\n${chunked}${NEXT}`);
  }
  for (const name of TE_NAMES) {
    corpus.push(`${start}${name}: chunked\r\nContent-Length: 5\r\n\r\n${chunked}${NEXT}`);
    corpus.push(`${start}${name}: chunked\r\n\r\n${chunked}${NEXT}`);
  }
  for (const value of CL_VALUES) {
    corpus.push(`${start}Content-Length: ${value}\r\n\r\nhello${NEXT}`);
    corpus.push(`${start}Content-Length: 5\r\nContent-Length: ${value}\r\n\r\nhello${NEXT}`);
  }
  for (const size of CHUNK_SIZES) {
    corpus.push(`${start}Transfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n${NEXT}`);
  }
  for (const line of REQUEST_LINES) corpus.push(`${line}\r\nHost: a\r\n\r\n${NEXT}`);
  for (const ending of ["\n", "\r", "\r\r\n", "\n\r"]) {
    corpus.push(`GET / HTTP/1.1${ending}Host: a\r\n\r\n${NEXT}`);
    corpus.push(`GET / HTTP/1.1\r\nHost: a${ending}\r\n${NEXT}`);
    corpus.push(`${start}Transfer-Encoding: chunked\r\n\r\n5${ending}hello\r\n0\r\n\r\n${NEXT}`);
    corpus.push(`${start}Transfer-Encoding: chunked\r\n\r\n5\r\nhello${ending}0\r\n\r\n${NEXT}`);
    corpus.push(`${start}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${ending}${NEXT}`);
  }
  for (const fold of [" chunked", "\tchunked"]) {
    corpus.push(`${start}Transfer-Encoding:\r\n${fold}\r\n\r\n${chunked}${NEXT}`);
  }
  return corpus;
}

Deno.test("differential: a request-smuggling corpus agrees, or is excused", async () => {
  const corpus = smugglingCorpus();
  const [report, oracles] = await withOracles(async (oracles) =>
    [await runDifferential(corpus.map(toBytes), oracles, DEVIATIONS, FUZZ_LIMITS), oracles] as const
  );
  const findings = report.findings.slice(0, 5).map((finding) => describeFinding(finding));
  assert.deepEqual(findings, [], unexcused(findings, report.findings.length, oracles));
});

// ---------------------------------------------------------------------------
// The table itself

Deno.test("deviation table: rows are complete and their ids unique", () => {
  assert.equal(new Set(DEVIATIONS.map((row) => row.id)).size, DEVIATIONS.length);
  for (const row of DEVIATIONS) {
    for (const field of ["inputClass", "ours", "h11", "llhttp", "rfc"] as const) {
      assert.ok(row[field].length > 0, `${row.id}: empty ${field}`);
    }
    assert.match(row.rfc, /RFC (9110|9112|6585)/, `${row.id}: no RFC clause`);
    assert.ok(row.oracles.length > 0 && row.examples.length > 0, row.id);
  }
});

Deno.test("deviation table: each row excuses its own examples, and nothing else is left", async () => {
  const examples = DEVIATIONS.flatMap((row) => row.examples.map((text) => ({ row, text })));
  const report = await withOracles((oracles) =>
    runDifferential(examples.map((e) => toBytes(e.text)), oracles, DEVIATIONS, FUZZ_LIMITS)
  );
  const problems: string[] = [];
  for (const [index, { row, text }] of examples.entries()) {
    const found = report.disagreements.filter((d) => d.index === index);
    const own = found.filter((d) => row.oracles.includes(d.context.oracle) && d.row === row);
    if (own.length === 0) {
      const seen = found.map((d) => `${d.context.oracle}: ${d.row?.id ?? "unexcused"}`);
      problems.push(
        `${row.id}: example ${JSON.stringify(escapeBinary(text, 200))} is not excused by it ` +
          `(${seen.length === 0 ? "no disagreement" : seen.join(", ")})`,
      );
    }
    for (const d of found.filter((d) => d.row === null)) problems.push(describeFinding(d));
  }
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------
// Planted bugs: a parser that decides wrongly must fail the check, whatever
// the table says. Each plants our trace of one input against the oracles'
// traces of another of the same length, as a parser with that bug would read it.

interface PlantedBug {
  name: string;
  /** What the input really is (the oracles read this). */
  input: string;
  /** An input our parser reads the way the buggy parser would read `input`. */
  asIf: string;
}

const PLANTED: PlantedBug[] = [
  {
    name: "an unknown transfer coding read as chunked",
    input: `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkex\r\n\r\n0\r\n\r\n${NEXT}`,
    asIf: `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${NEXT}`,
  },
  {
    name: "Content-Length read one too many",
    input: `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nhello${NEXT}`,
    asIf: `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello${NEXT}`,
  },
  {
    name: "Connection: close ignored",
    input: `GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n${NEXT}`,
    asIf: `GET / HTTP/1.1\r\nHost: a\r\nConnection: clean\r\n\r\n${NEXT}`,
  },
  {
    name: "a chunk size read as decimal",
    input: `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n` +
      `0123456789\r\n0\r\n\r\n${NEXT}`,
    asIf: `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0a\r\n` +
      `0123456789\r\n0\r\n\r\n${NEXT}`,
  },
  {
    name: "a valid request refused",
    input: `GET / HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\n\r\n${NEXT}`,
    asIf: `GET / HTTP/1.1\r\nHost: a\r\nX-Ok\x00 1\r\n\r\n${NEXT}`,
  },
];

Deno.test("differential: planted parser bugs are caught, not excused", async () => {
  await withOracles(async (oracles) => {
    for (const bug of PLANTED) {
      assert.equal(bug.input.length, bug.asIf.length, bug.name);
      const input = toBytes(bug.input);
      const buggy = traceOurs(toBytes(bug.asIf), FUZZ_LIMITS);
      for (const oracle of oracles) {
        const [theirs] = await oracle.traceAll([input]);
        const disagreement = firstDisagreement(oracle.name, buggy, theirs);
        assert.ok(disagreement !== null, `${bug.name}: ${oracle.name} did not notice`);
        const text = toBinary(input);
        const context: DeviationContext = {
          disagreement,
          oracle: oracle.name,
          input,
          text,
          ours: buggy,
          theirs,
          start: 0,
          view: viewRequest(text, 0),
          completed: false,
        };
        const row = classify(context, DEVIATIONS);
        assert.equal(row, null, `${bug.name}: excused by ${row?.id} for ${oracle.name}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// A machine without the oracles gets told what to install.

async function startFailure(variable: string, value: string, name: "h11" | "llhttp") {
  const before = Deno.env.get(variable);
  Deno.env.set(variable, value);
  try {
    return await Oracle.start(name).then(
      async (oracle) => {
        await oracle.close();
        return null;
      },
      (error) => error,
    );
  } finally {
    if (before === undefined) Deno.env.delete(variable);
    else Deno.env.set(variable, before);
  }
}

Deno.test("oracles: a missing interpreter or library fails with what to install", async () => {
  const noPython = await startFailure("FUZZ_ORACLE_PYTHON", "/nonexistent/python3", "h11");
  assert.ok(noPython instanceof OracleUnavailableError, String(noPython));
  assert.match(noPython.message, /apt-get install python3-h11/);
  const noNode = await startFailure("FUZZ_ORACLE_NODE", "/nonexistent/node", "llhttp");
  assert.ok(noNode instanceof OracleUnavailableError, String(noNode));
  assert.match(noNode.message, /apt-get install nodejs/);
  // An interpreter without h11: the oracle says so on its first line.
  const fake = await Deno.makeTempFile({ suffix: ".sh" });
  try {
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh\necho '{"error": "h11 is not importable by ${fake}"}'\nexit 3\n`,
    );
    await Deno.chmod(fake, 0o755);
    const noH11 = await startFailure("FUZZ_ORACLE_PYTHON", fake, "h11");
    assert.ok(noH11 instanceof OracleUnavailableError, String(noH11));
    assert.match(noH11.message, /h11 is not importable.*apt-get install python3-h11/s);
  } finally {
    await Deno.remove(fake);
  }
});
