/**
 * The command line: parses arguments (and environment variables) into a
 * {@linkcode Command}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { LogFormat } from "./server/access_log.ts";
import type { ServeOptions } from "./mod.ts";

/** Thrown for a bad command line; the message is shown to the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How the command reports requests and errors. */
export interface Reporting {
  /** Access log format, or "off". */
  log: LogFormat | "off";
  /** Print neither the access log nor the banner's details. */
  quiet: boolean;
}

/** What the command should do. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "hash-password" }
  | {
    kind: "serve";
    options: ServeOptions;
    /** How many workers serve the port (`--workers`); 1 runs the server on the main thread. */
    workers: number;
    portWasDefault: boolean;
    reporting: Reporting;
    tlsFiles: { cert: string; key: string } | null;
  };

/** The default port; when it is taken and no port was given, the server picks a free one. */
export const DEFAULT_PORT = 8080;

/** Prefix of the environment variables read for options (besides PORT and HOST). */
export const ENV_PREFIX = "FILEDROP_";

/** The `--help` text. */
export const HELP = `Usage: filedrop [options] [ROOT]
       filedrop hash-password      (reads a password on stdin, prints its hash)

Serves ROOT (default: the current directory) over HTTP: GET and HEAD read
files, PUT uploads them atomically, DELETE removes them, MOVE renames them.
ROOT may be s3://BUCKET/PREFIX: a bucket of an S3-compatible object store.

Network:
  --host ADDR            address to bind (default 127.0.0.1)            [HOST]
  --port N               port (default 8080; 0 picks a free one; if 8080
                         is taken and no port was given, a free one)    [PORT]
  --tls-cert FILE        serve HTTPS with this PEM certificate chain
  --tls-key FILE         ... and this PEM private key
  --cors                 let scripts on any origin read and write
  --workers N|auto       serve with N workers on one port, one per core
                         with auto (Linux; default 1)        [FILEDROP_WORKERS]

Writes:
  --read-only            refuse every write with 403          [FILEDROP_READ_ONLY]
  --max-body SIZE        largest upload, e.g. 500M, 2G (default unlimited)
                                                               [FILEDROP_MAX_BODY]
  --no-fsync             answer before uploads are flushed to disk (faster;
                         an acknowledged upload may be lost on power loss)
  --auth USER:PASS       require HTTP Basic credentials for writes; repeatable;
                         PASS may be a hash from 'filedrop hash-password'
                                                               [FILEDROP_AUTH]
  --auth-reads           require the credentials for reads too
  --public-writes        allow anonymous writes on a non-loopback address

Reads:
  --no-listing           404 for directories without index.html
  --dotfiles             serve and list names starting with "."
  --follow-symlinks      follow symlinks that lead outside ROOT, for reads
                         (UNSAFE: exposes whatever they point to)
  --spa                  answer unknown paths that accept HTML with /index.html
  --no-compress          no gzip on the fly, no precompressed .br/.gz files
  --cache-control VALUE  Cache-Control of file responses (default no-cache)

Object storage (ROOT = s3://BUCKET/PREFIX):
  --s3-endpoint URL      the store's endpoint (default AWS_ENDPOINT_URL_S3,
                         AWS_ENDPOINT_URL, the profile's endpoint_url, else
                         AWS S3 in AWS_REGION, default us-east-1)
  --s3-path-style        URLs as ENDPOINT/BUCKET/KEY (the default with a
                         custom endpoint; AWS gets BUCKET.ENDPOINT/KEY)
  --s3-profile NAME      take credentials, region and endpoint from this
                         profile of ~/.aws/credentials and ~/.aws/config
                         (default AWS_PROFILE, else "default"); without it,
                         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
                         AWS_SESSION_TOKEN come first when readable
  The environment is read only with --allow-env; ~/.aws needs --allow-read
  (and --allow-env=HOME).

Output:
  --log FORMAT           access log on stdout, one line per request:
                         common (default): Apache's Common Log Format
                           (%h %l %u %t "%r" %>s %b; no body bytes is -)
                         combined: nginx's combined format (common, with
                           no body bytes as 0, plus "referer" "user-agent")
                         json: also response time and head+body bytes
                         off                                   [FILEDROP_LOG]
  --quiet                no access log and no start-up details
  -h, --help             show this help
  -V, --version          show the version

Environment variables (in brackets) are read only when the process may read
them (deno run --allow-env; the release binaries may); flags win over them.
ROOT may also come from FILEDROP_ROOT.

Examples:
  filedrop                                serve the current directory on :8080
  filedrop --read-only ./public           serve ./public without uploads
  filedrop --host 0.0.0.0 --auth "me:$(filedrop hash-password)" ~/drop
  curl -T photo.jpg http://127.0.0.1:8080/photos/photo.jpg
`;

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
const UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Parses a byte size such as `1048576`, `512K`, `1.5G` or `10MiB`. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  if (match === null) throw new UsageError(`invalid size: ${JSON.stringify(text)}`);
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size too large: ${text}`);
  return bytes;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`invalid port: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

const LOG_FORMATS = ["common", "combined", "json", "off"] as const;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  cors: { type: "boolean" },
  "read-only": { type: "boolean" },
  "max-body": { type: "string" },
  "no-fsync": { type: "boolean" },
  auth: { type: "string", multiple: true },
  "auth-reads": { type: "boolean" },
  "public-writes": { type: "boolean" },
  "no-listing": { type: "boolean" },
  dotfiles: { type: "boolean" },
  "follow-symlinks": { type: "boolean" },
  spa: { type: "boolean" },
  "no-compress": { type: "boolean" },
  "cache-control": { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-path-style": { type: "boolean" },
  "s3-profile": { type: "string" },
  workers: { type: "string" },
  log: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Edit distance, for suggesting the option a user probably meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known option closest to `unknown`, if one is close enough to be a typo. */
export function suggestOption(unknown: string): string | null {
  const name = unknown.replace(/^-+/, "").split("=")[0];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const option of Object.keys(OPTIONS)) {
    const d = distance(name, option);
    if (d < bestDistance) [best, bestDistance] = [option, d];
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function usageErrorFrom(error: unknown): UsageError {
  // node:util goes on after the first sentence with advice about "--"; one line is enough.
  const message = (error instanceof Error ? error.message : String(error)).split(". ")[0];
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  const suggestion = unknown === null ? null : suggestOption(unknown[1]);
  return new UsageError(
    suggestion === null ? message : `${message}; did you mean --${suggestion}?`,
  );
}

/** Most workers: more than the cores of any machine this runs on helps nobody. */
const MAX_WORKERS = 256;

/** `--workers`: a count from 1 to {@linkcode MAX_WORKERS}, or `auto` for one per core. */
function parseWorkers(text: string): number {
  if (text === "auto") return Math.max(1, Math.min(MAX_WORKERS, navigator.hardwareConcurrency));
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKERS) {
    throw new UsageError(`--workers must be auto or a number from 1 to ${MAX_WORKERS}`);
  }
  return Number(text);
}

function envFlag(env: Record<string, string | undefined>, name: string): boolean | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`${name} must be true or false, not ${JSON.stringify(value)}`);
}

/**
 * Parses `args` into a command. `env` holds the environment variables the
 * process may read (PORT, HOST and FILEDROP_*); flags win over them. Throws
 * {@linkcode UsageError} on a bad command line.
 */
export function parseCommandLine(
  args: string[],
  env: Record<string, string | undefined> = {},
): Command {
  if (args[0] === "hash-password" && args.length === 1) return { kind: "hash-password" };
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw usageErrorFrom(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 1) throw new UsageError("only one ROOT directory may be given");

  const portText = values.port ?? env.PORT;
  const maxBody = values["max-body"] ?? env[`${ENV_PREFIX}MAX_BODY`];
  const auth = values.auth ?? (env[`${ENV_PREFIX}AUTH`] ? [env[`${ENV_PREFIX}AUTH`]!] : []);
  const options: ServeOptions = {
    root: positionals[0] ?? env[`${ENV_PREFIX}ROOT`] ?? ".",
    hostname: values.host ?? env.HOST ?? "127.0.0.1",
    port: portText === undefined ? DEFAULT_PORT : parsePort(portText),
    readOnly: values["read-only"] ?? envFlag(env, `${ENV_PREFIX}READ_ONLY`) ?? false,
    fsync: !values["no-fsync"],
    listing: !values["no-listing"],
    dotfiles: values.dotfiles ?? false,
  };
  if (values.cors) options.cors = true;
  if (values.spa) options.spa = true;
  if (values["no-compress"]) options.compress = false;
  if (values["follow-symlinks"]) options.followSymlinks = true;
  if (values["public-writes"]) options.publicWrites = true;
  if (auth.length > 0) options.auth = auth;
  if (values["auth-reads"]) {
    if (auth.length === 0) throw new UsageError("--auth-reads needs --auth");
    options.authReads = true;
  }
  if (values["cache-control"] !== undefined) {
    if (/[\r\n\0]/.test(values["cache-control"])) throw new UsageError("invalid --cache-control");
    options.cacheControl = values["cache-control"];
  }
  if (maxBody !== undefined) options.limits = { maxBodyBytes: parseSize(maxBody) };
  const s3Flags = {
    endpoint: values["s3-endpoint"],
    pathStyle: values["s3-path-style"],
    profile: values["s3-profile"],
  };
  if (Object.values(s3Flags).some((value) => value !== undefined)) {
    if (!/^s3:\/\//i.test(options.root)) throw new UsageError("--s3-* options need an s3:// ROOT");
    options.s3 = Object.fromEntries(
      Object.entries(s3Flags).filter(([, value]) => value !== undefined),
    );
  }

  const workers = parseWorkers(values.workers ?? env[`${ENV_PREFIX}WORKERS`] ?? "1");

  const log = values.log ?? env[`${ENV_PREFIX}LOG`] ?? "common";
  if (!(LOG_FORMATS as readonly string[]).includes(log)) {
    throw new UsageError(`--log must be one of ${LOG_FORMATS.join(", ")}`);
  }
  const certFile = values["tls-cert"];
  const keyFile = values["tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  return {
    kind: "serve",
    options,
    workers,
    portWasDefault: portText === undefined,
    reporting: { log: log as Reporting["log"], quiet: values.quiet ?? false },
    tlsFiles: certFile === undefined ? null : { cert: certFile, key: keyFile! },
  };
}
