/**
 * Proactive content negotiation (RFC 9110 §12.5): content codings, and JSON
 * or HTML for pages that have both.
 *
 * @module
 */

/** The content codings this server can send, in its order of preference. */
export type Coding = "br" | "gzip";

const SERVER_PREFERENCE: readonly Coding[] = ["br", "gzip"];

/**
 * The q-value the client gives each coding (0 when refused or not named and
 * no `*` covers it). Members with a malformed q-value are ignored.
 */
function codingWeights(acceptEncoding: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const member of acceptEncoding.split(",")) {
    const [name, ...params] = member.split(";").map((part) => part.trim().toLowerCase());
    if (name === "") continue;
    let q = 1;
    let valid = true;
    for (const param of params) {
      const match = /^q\s*=\s*(0(\.\d{0,3})?|1(\.0{0,3})?)$/.exec(param);
      if (match === null) valid = false;
      else q = Number(match[1]);
    }
    if (valid) weights.set(name === "x-gzip" ? "gzip" : name, q);
  }
  return weights;
}

/**
 * Picks the coding to send among `available` (null for identity): the one
 * with the highest q-value the client gives, ties broken by the server's
 * preference (brotli, then gzip). Absent Accept-Encoding means identity.
 *
 * @example
 * ```ts
 * chooseCoding("gzip, br;q=0.5", ["br", "gzip"]); // "gzip"
 * ```
 */
export function chooseCoding(
  acceptEncoding: string | undefined,
  available: readonly Coding[],
): Coding | null {
  if (acceptEncoding === undefined || available.length === 0) return null;
  const weights = codingWeights(acceptEncoding);
  const wildcard = weights.get("*") ?? 0;
  let best: Coding | null = null;
  let bestQ = 0;
  for (const coding of SERVER_PREFERENCE) {
    if (!available.includes(coding)) continue;
    const q = weights.get(coding) ?? wildcard;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

interface Acceptance {
  quality: number;
  /** 2 for "type/subtype", 1 for "type/*", 0 for "*\/*", -1 when nothing matched. */
  specificity: number;
}

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Parses Accept into lowercase media ranges with their q-values; elements with a malformed q are dropped. */
function parseAccept(header: string): { range: string; quality: number }[] {
  const ranges: { range: string; quality: number }[] = [];
  for (const element of header.split(",")) {
    const [range, ...params] = element.split(";").map((part) => part.trim());
    if (!range.includes("/")) continue;
    let quality = 1;
    let valid = true;
    for (const param of params) {
      const [name, value = ""] = param.split("=").map((part) => part.trim());
      if (name.toLowerCase() !== "q") continue;
      valid = QVALUE.test(value);
      quality = Number(value);
    }
    if (valid) ranges.push({ range: range.toLowerCase(), quality });
  }
  return ranges;
}

/** The q-value of the most specific range matching `mediaType` (RFC 9110 §12.5.1). */
function acceptance(ranges: { range: string; quality: number }[], mediaType: string): Acceptance {
  const [type] = mediaType.split("/");
  let best: Acceptance = { quality: 0, specificity: -1 };
  for (const { range, quality } of ranges) {
    const specificity = range === mediaType
      ? 2
      : range === `${type}/*`
      ? 1
      : range === "*/*"
      ? 0
      : -1;
    if (specificity > best.specificity) best = { quality, specificity };
  }
  return best;
}

/**
 * Whether an Accept header prefers JSON to HTML: application/json rated
 * above text/html, or equally but named more specifically
 * (`application/json, *\/*`, as HTTP libraries send). Absent Accept: HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = parseAccept(accept);
  const json = acceptance(ranges, "application/json");
  const html = acceptance(ranges, "text/html");
  if (json.quality !== html.quality) return json.quality > html.quality;
  return json.quality > 0 && json.specificity > html.specificity;
}
