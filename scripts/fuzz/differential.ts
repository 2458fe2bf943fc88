/**
 * The differential check, as in HTTP Garden: every input goes through our
 * parser and through independent ones (h11, llhttp); every disagreement on
 * accept/reject, method, target, version, framing, body bytes, persistence
 * or where the next request starts must be excused by a row of the
 * deviation table (`tests/differential_deviations.ts`), or it is a finding.
 *
 * @module
 */

import type { Limits } from "../../lib/server/limits.ts";
import { concat, escapeBinary, toBinary, toBytes } from "./bytes.ts";
import { firstDisagreement } from "./compare.ts";
import type { Disagreement } from "./compare.ts";
import { chunkLines, viewRequest } from "./evidence.ts";
import type { RequestView } from "./evidence.ts";
import type { Oracle, OracleName } from "./oracles.ts";
import { traceOurs } from "./ours.ts";
import type { OurTrace } from "./ours.ts";
import type { ParseTrace } from "./trace.ts";

/** What a deviation row's predicate sees of one disagreement. */
export interface DeviationContext {
  /** The disagreement. */
  disagreement: Disagreement;
  /** The oracle it is with. */
  oracle: OracleName;
  /** The input compared (completed, when `completed`), as bytes. */
  input: Uint8Array;
  /** The same as a byte string. */
  text: string;
  /** Our trace of `input`. */
  ours: OurTrace;
  /** The oracle's trace of `input` (of its cut-short prefix when only we were asked again). */
  theirs: ParseTrace;
  /** Offset where the disputed request starts (where the last agreed one ended). */
  start: number;
  /** A plain look at the disputed request's head. */
  view: RequestView;
  /**
   * Whether `input` is the generated input completed with the end of its last
   * line (see {@linkcode Completion}): one side refused bytes the input cut
   * short while the other still waited, so both were asked again.
   */
  completed: boolean;
}

/** How a deviation row judges a disagreement. */
export type Verdict =
  | "deliberate strictness"
  | "deliberate leniency"
  | "oracle strictness"
  | "oracle leniency"
  | "oracle limitation";

/** One row of the deviation table: a class of inputs where we knowingly differ. */
export interface Deviation {
  /** A short unique name. */
  id: string;
  /** The class of inputs, in words. */
  inputClass: string;
  /** What we do. */
  ours: string;
  /** What h11 does. */
  h11: string;
  /** What llhttp does. */
  llhttp: string;
  /** The RFC 9110 / 9112 clause that decides it. */
  rfc: string;
  /** Whose choice the difference is. */
  verdict: Verdict;
  /** The oracles whose disagreements this row may excuse. */
  oracles: readonly OracleName[];
  /** Whether this row excuses the disagreement. */
  matches(context: DeviationContext): boolean;
  /** Inputs that must disagree with one of `oracles` in a way this row classifies. */
  examples: readonly string[];
}

/** The offset where request `index` starts in our trace: 0, or where the one before it ended. */
function startOf(ours: OurTrace, index: number): number {
  if (index === 0) return 0;
  return ours.requests[index - 1]?.end ?? ours.requests[index - 1]?.headEnd ?? 0;
}

/**
 * The bytes that end what the input cut short, when `waiting` still waits
 * where `refusing` has refused: for a head, its line and then the blank line;
 * for a chunked body, the line it is in (or the two bytes after chunk data),
 * and in the trailer section the blank line too.
 * Null when the two do not differ that way.
 */
function completionFor(waiting: ParseTrace, refusing: ParseTrace, text: string): string | null {
  const count = waiting.requests.length;
  if (refusing.requests.length !== count) return null;
  if (waiting.tail === "partial" && refusing.tail === "error") {
    if (text.endsWith("\r\n")) return "\r\n";
    if (text.endsWith("\r")) return "\n\r\n";
    return "\r\n\r\n";
  }
  const request = waiting.requests[count - 1];
  if (request?.body === "partial" && refusing.requests[count - 1]?.body === "error") {
    // In the trailer section the section must end too, or h11 still waits for it.
    const inTrailers = chunkLines(text, request.headEnd).at(-1)?.trailer === true;
    const line = text.endsWith("\r") ? "\n" : "\r\n";
    return inTrailers ? `${line}\r\n` : line;
  }
  return null;
}

/** The context of a disagreement, for the table's predicates. */
function contextOf(
  disagreement: Disagreement,
  input: Uint8Array,
  ours: OurTrace,
  theirs: ParseTrace,
  completed: boolean,
): DeviationContext {
  const text = toBinary(input);
  const start = startOf(ours, disagreement.index);
  return {
    disagreement,
    oracle: disagreement.oracle,
    input,
    text,
    ours,
    theirs,
    start,
    view: viewRequest(text, start),
    completed,
  };
}

/**
 * A disagreement where the input ends inside a line that one side already
 * refused while the other still waits for the line's end (llhttp refuses
 * bytes as they arrive; h11 and we check a head once it is whole, a chunk or
 * trailer line once it ends). The input is completed (see `completionFor`)
 * and the waiting side asked again: a parser that refused a prefix refuses
 * every continuation, so the other must refuse the completed input too, or the
 * disagreement on the completed input is the one that counts.
 */
interface Completion {
  /** The input with the cut-short line ended. */
  input: Uint8Array;
  /** Whose trace must be recomputed: ours (at once) or the oracle's (in a second batch). */
  waiting: "ours" | "theirs";
}

/** The completion a disagreement needs, or null (see {@linkcode Completion}). */
function completionOf(input: Uint8Array, ours: OurTrace, theirs: ParseTrace): Completion | null {
  const text = toBinary(input);
  const oursWaits = completionFor(ours, theirs, text);
  if (oursWaits !== null) return { input: concat([input, toBytes(oursWaits)]), waiting: "ours" };
  const theyWait = completionFor(theirs, ours, text);
  if (theyWait !== null) return { input: concat([input, toBytes(theyWait)]), waiting: "theirs" };
  return null;
}

/** The first row of `table` that excuses the disagreement, or null. */
export function classify(
  context: DeviationContext,
  table: readonly Deviation[],
): Deviation | null {
  for (const row of table) {
    if (row.oracles.includes(context.oracle) && row.matches(context)) return row;
  }
  return null;
}

/** One disagreement, and the row that excuses it (null: none does). */
export interface Finding {
  /** The input's position in the batch. */
  index: number;
  /** The disagreement and what was compared. */
  context: DeviationContext;
  /** The row that excuses it, or null. */
  row: Deviation | null;
}

/** What a differential run found. */
export interface DifferentialReport {
  /** Inputs compared. */
  inputs: number;
  /** Per oracle: inputs on which it and our parser agree entirely. */
  agreed: Map<OracleName, number>;
  /** Per deviation row: disagreements it excused. */
  excused: Map<string, number>;
  /** Every disagreement, excused or not. */
  disagreements: Finding[];
  /** Disagreements no row excuses: bugs, or rows missing from the table. */
  findings: Finding[];
}

/** Inputs traced or compared between two turns of the event loop (see `runDifferential`). */
const INPUTS_PER_TURN = 50;

/** Lets timers and I/O callbacks that are due run before going on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs `inputs` through our parser (with `limits`) and every oracle, and
 * classifies every disagreement with `table`. Inputs cut short inside a line
 * one side already refused are completed first (see {@linkcode Completion}):
 * ours at once, the oracles' in one more batch each. The work in this process
 * yields to the event loop every {@linkcode INPUTS_PER_TURN} inputs: a batch
 * of a thousand takes some 100 ms of CPU, seconds on a loaded machine, and
 * the clients that a fuzz run drives meanwhile must not stall that long.
 */
export async function runDifferential(
  inputs: readonly Uint8Array[],
  oracles: readonly Oracle[],
  table: readonly Deviation[],
  limits: Limits,
): Promise<DifferentialReport> {
  const ours: OurTrace[] = [];
  for (const [index, input] of inputs.entries()) {
    if (index > 0 && index % INPUTS_PER_TURN === 0) await nextTurn();
    ours.push(traceOurs(input, limits));
  }
  const report: DifferentialReport = {
    inputs: inputs.length,
    agreed: new Map(),
    excused: new Map(),
    disagreements: [],
    findings: [],
  };
  const record = (index: number, context: DeviationContext) => {
    const row = classify(context, table);
    const finding = { index, context, row };
    report.disagreements.push(finding);
    if (row === null) report.findings.push(finding);
    else report.excused.set(row.id, (report.excused.get(row.id) ?? 0) + 1);
  };
  const traces = await Promise.all(oracles.map((oracle) => oracle.traceAll(inputs)));
  await Promise.all(oracles.map(async (oracle, k) => {
    const disputed = new Set<number>();
    const later: { index: number; input: Uint8Array }[] = [];
    for (const [index, input] of inputs.entries()) {
      if (index > 0 && index % INPUTS_PER_TURN === 0) await nextTurn();
      const theirs = traces[k][index];
      const disagreement = firstDisagreement(oracle.name, ours[index], theirs);
      if (disagreement === null) continue;
      disputed.add(index);
      const completion = completionOf(input, ours[index], theirs);
      if (completion?.waiting === "theirs") {
        later.push({ index, input: completion.input });
      } else if (completion?.waiting === "ours") {
        const completed = traceOurs(completion.input, limits);
        const again = firstDisagreement(oracle.name, completed, theirs);
        if (again === null) disputed.delete(index);
        else record(index, contextOf(again, completion.input, completed, theirs, true));
      } else {
        record(index, contextOf(disagreement, input, ours[index], theirs, false));
      }
    }
    const completedTraces = await oracle.traceAll(later.map((item) => item.input));
    for (const [i, { index, input }] of later.entries()) {
      const completed = traceOurs(input, limits);
      const again = firstDisagreement(oracle.name, completed, completedTraces[i]);
      if (again === null) disputed.delete(index);
      else record(index, contextOf(again, input, completed, completedTraces[i], true));
    }
    report.agreed.set(oracle.name, inputs.length - disputed.size);
  }));
  report.disagreements.sort((a, b) => a.index - b.index);
  report.findings.sort((a, b) => a.index - b.index);
  return report;
}

/** A disagreement in words, with the input (left out when `maxInput` is 0), for a report. */
export function describeFinding(finding: Finding, maxInput = 600): string {
  const { context } = finding;
  const d = context.disagreement;
  const lines = [
    `input ${finding.index}: ${d.oracle} disagrees on ${d.aspect} of request ${d.index}` +
    (context.completed ? " (its cut-short last line completed)" : ""),
    `  ours:   ${d.ours}`,
    `  ${d.oracle.padEnd(7)} ${d.theirs}`,
  ];
  if (maxInput > 0) lines.push(`  input:  ${escapeBinary(context.text, maxInput)}`);
  return lines.join("\n");
}
