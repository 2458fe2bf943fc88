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

/** The q-value Accept gives `mediaType` through its most specific matching range, and that specificity. */
function acceptance(accept: string, mediaType: string): { quality: number; specificity: number } {
  let best = { quality: 0, specificity: -1 };
  for (const element of accept.split(",")) {
    const [range, ...params] = element.split(";").map((part) => part.trim().toLowerCase());
    const specificity = range === mediaType
      ? 2
      : range === `${mediaType.split("/")[0]}/*`
      ? 1
      : range === "*/*"
      ? 0
      : -1;
    if (specificity <= best.specificity) continue;
    const q = params.find((param) => param.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isNaN(quality)) best = { quality, specificity };
  }
  return best;
}

/**
 * Whether an Accept header prefers JSON to HTML: application/json rated
 * above text/html, or equally but named more specifically
 * (`application/json, *\/*`, as API clients send). Absent Accept: HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const json = acceptance(accept, "application/json");
  const html = acceptance(accept, "text/html");
  if (json.quality !== html.quality) return json.quality > html.quality;
  return json.quality > 0 && json.specificity > html.specificity;
}
