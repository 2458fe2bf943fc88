/**
 * `--config FILE`: a YAML file of options, turned into the command-line
 * arguments they stand for, so that one parser judges both.
 *
 * Keys are the long option names (`port: 8080`, `read-only: true`,
 * `trusted-proxy: [10.0.0.0/8]`), plus `root` (ROOT), `users` (a map of
 * user name to password or hash, each an `--auth`) and `rules` (a list of
 * `--rule` values). Relative paths (`root`, `tls-cert`, `tls-key`) are
 * relative to the file's folder. A file holding a plain password or the
 * share secret must not be readable by group or others.
 *
 * @module
 */

import * as path from "node:path";
// Not the `yaml` package: it reads process.env.LOG_TOKENS while parsing, which
// needs --allow-env; js-yaml reads nothing but its input.
import { load as parseYaml } from "js-yaml";
import { HASH_PREFIX } from "./policy/auth.ts";

/** What a config file says: the arguments it stands for, and ROOT if it names one. */
export interface ConfigArguments {
  /** Option arguments, as `--name=value` and `--flag`. */
  args: string[];
  /** ROOT, resolved against the file's folder (an `s3://` root as is). */
  root: string | null;
}

/** How a config key's value is checked and turned into arguments. */
export type ConfigKind = "string" | "boolean" | "list";

/** Keys that take a path, resolved against the file's folder. */
const PATH_KEYS = new Set(["tls-cert", "tls-key"]);
/** Keys that are no option of the file: the file itself, and what only a terminal asks. */
const NOT_IN_FILE = new Set(["config", "help", "version"]);
/** Group- or other-readable permission bits. */
const READABLE_BY_OTHERS = 0o044;

/**
 * Reads `file` and returns the arguments its options stand for. `options`
 * maps each long option name to its kind. Throws an Error with a message
 * for the user (naming the file, the key, and what is wrong; never a
 * password) for a file that cannot be read, is not YAML, has an unknown
 * key or a value of the wrong type, or holds a plain password or the share
 * secret while readable by group or others.
 */
export function readConfigFile(file: string, options: Record<string, ConfigKind>): ConfigArguments {
  let text: string;
  let mode: number | null;
  try {
    text = Deno.readTextFileSync(file);
    mode = Deno.statSync(file).mode;
  } catch (error) {
    throw new Error(`cannot read --config ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new Error(
      `--config ${file} is not valid YAML: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  if (document === null || document === undefined) return { args: [], root: null };
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new Error(`--config ${file}: expected a map of option names to values`);
  }
  const folder = path.dirname(path.resolve(file));
  const bad = (key: string, why: string) => new Error(`--config ${file}: ${key}: ${why}`);
  const args: string[] = [];
  let root: string | null = null;
  let plainPasswords = false;
  // Signs links to anything: whoever reads it may read and drop files everywhere.
  const shareSecret = "share-secret" in (document as Record<string, unknown>);
  const credential = (user: string, secret: unknown) => {
    if (user === "" || user.includes(":")) throw bad(`users`, 'a user name is empty or has a ":"');
    if (typeof secret !== "string" || secret === "") {
      throw bad(`users.${user}`, "expected a password or a hash from 'filedrop hash-password'");
    }
    if (!secret.startsWith(HASH_PREFIX)) plainPasswords = true;
    args.push(`--auth=${user}:${secret}`);
  };
  for (const [key, value] of Object.entries(document as Record<string, unknown>)) {
    if (key === "root") {
      if (typeof value !== "string" || value === "") throw bad(key, "expected a path");
      root = /^s3:\/\//i.test(value) ? value : path.resolve(folder, value);
    } else if (key === "users") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw bad(key, "expected a map of user names to passwords or hashes");
      }
      for (const [user, secret] of Object.entries(value)) credential(user, secret);
    } else if (key === "rules") {
      args.push(...listOf(key, value, bad).map((rule) => `--rule=${rule}`));
    } else {
      const kind = NOT_IN_FILE.has(key) ? undefined : options[key];
      if (kind === undefined) throw bad(key, "no such option (see filedrop --help)");
      if (kind === "boolean") {
        if (typeof value !== "boolean") throw bad(key, "expected true or false");
        if (value) args.push(`--${key}`);
      } else if (kind === "list") {
        for (const item of listOf(key, value, bad)) {
          if (key === "auth") {
            const colon = item.indexOf(":");
            credential(item.slice(0, colon), colon === -1 ? "" : item.slice(colon + 1));
          } else {
            args.push(`--${key}=${item}`);
          }
        }
      } else {
        if (typeof value !== "string" && typeof value !== "number") {
          throw bad(key, "expected a value");
        }
        const text = String(value);
        args.push(`--${key}=${PATH_KEYS.has(key) ? path.resolve(folder, text) : text}`);
      }
    }
  }
  if ((plainPasswords || shareSecret) && mode !== null && (mode & READABLE_BY_OTHERS) !== 0) {
    const what = plainPasswords ? "plain passwords" : "the share secret";
    const cure = plainPasswords ? ", or use hashes from 'filedrop hash-password'" : "";
    throw new Error(
      `--config ${file} holds ${what} but is readable by group or others (mode ` +
        `${(mode & 0o777).toString(8).padStart(4, "0")}): chmod 600 it${cure}`,
    );
  }
  return { args, root };
}

/** A list of strings (numbers allowed), or one string standing for a list of one. */
function listOf(key: string, value: unknown, bad: (key: string, why: string) => Error): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (typeof item !== "string" && typeof item !== "number") {
      throw bad(key, "expected a list of values");
    }
    return String(item);
  });
}
