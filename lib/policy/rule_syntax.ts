/**
 * The written form of access rules, as `--rule` and the config file take
 * them: `WHO@/PATH[:PERMS][,/PATH[:PERMS]...]`.
 *
 * - WHO: empty for everyone (signed in or not), `*` for any signed-in user,
 *   else one user name or several separated by commas.
 * - PATH: a URL path; percent-escapes are decoded as in requests (write a
 *   comma in a name as `%2C`); `/` is the whole tree.
 * - PERMS: letters from `r` (read), `w` (write), `d` (delete), in any order,
 *   or `-` for nothing (to take away, below, what a shorter path granted);
 *   `r` when left out.
 *
 * Examples: `@/public` (everyone reads /public), `admin@/:rwd`,
 * `bob,carol@/team:rw`, `*@/inbox:w`, `@/public/private:-`.
 *
 * @module
 */

import { decodeUrlPath } from "../handlers/url_path.ts";
import type { AccessRule, Action, Audience } from "./access.ts";

/** Thrown for a rule that does not parse; the message says what is wrong and shows the rule. */
export class RuleSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RuleSyntaxError";
  }
}

/** The syntax, for error messages. */
export const RULE_SYNTAX = "WHO@/PATH[:PERMS][,/PATH[:PERMS]...]";

const LETTERS: Record<string, Action> = { r: "read", w: "write", d: "delete" };

/** Parses one rule (see the module documentation) into one rule per name and path. */
export function parseRule(text: string): AccessRule[] {
  const bad = (why: string) => new RuleSyntaxError(`rule ${JSON.stringify(text)}: ${why}`);
  const at = text.indexOf("@/");
  if (at === -1) throw bad(`expected ${RULE_SYNTAX}`);
  const audiences = parseWho(text.slice(0, at), bad);
  const entries = text.slice(at + 1).split(",");
  const rules: AccessRule[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(":");
    const rawPath = colon === -1 ? entry : entry.slice(0, colon);
    const actions = colon === -1 ? ["read" as const] : parsePerms(entry.slice(colon + 1), bad);
    if (!rawPath.startsWith("/")) throw bad(`a path must start with "/": ${JSON.stringify(entry)}`);
    let path: string[];
    try {
      path = decodeUrlPath(rawPath).segments;
    } catch {
      throw bad(`${JSON.stringify(rawPath)} is not a valid path`);
    }
    for (const audience of audiences) rules.push({ audience, path, actions });
  }
  return rules;
}

function parseWho(who: string, bad: (why: string) => Error): Audience[] {
  if (who === "") return [{ kind: "everyone" }];
  if (who === "*") return [{ kind: "authenticated" }];
  return who.split(",").map((name) => {
    if (name === "") throw bad("an empty user name in the list");
    if (name === "*") throw bad('"*" (any signed-in user) stands alone');
    // deno-lint-ignore no-control-regex -- no header or log line may carry one.
    if (/[\x00-\x1f\x7f]/.test(name)) throw bad("a user name contains a control character");
    return { kind: "user", name: name.normalize("NFC") };
  });
}

function parsePerms(perms: string, bad: (why: string) => Error): Action[] {
  if (perms === "-") return [];
  if (!/^[rwd]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) {
    throw bad(`permissions are letters from "rwd" (or "-" for none), not ${JSON.stringify(perms)}`);
  }
  return [...perms].map((letter) => LETTERS[letter]);
}
