/**
 * The command line: parses arguments (and environment variables) into a
 * {@linkcode Command}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { LogFormat } from "./server/access_log.ts";
import { parseByteSize } from "./ui/portable.ts";
import type { ServeOptions } from "./mod.ts";
import { readConfigFile } from "./config_file.ts";
import type { ConfigKind } from "./config_file.ts";
import { parseRule, RuleSyntaxError } from "./policy/rule_syntax.ts";
import { parseCidr } from "./policy/ip_address.ts";
import type { S3Options } from "./storage/s3_config.ts";

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
  | { kind: "completions"; shell: Shell }
  | { kind: "healthcheck"; url: string }
  | ShareCommand
  | {
    kind: "serve";
    options: ServeOptions;
    /** How many workers serve the port (`--workers`); 1 runs the server on the main thread. */
    workers: number;
    portWasDefault: boolean;
    reporting: Reporting;
    tlsFiles: { cert: string; key: string } | null;
  };

/** `filedrop share`: make a share or drop link, or revoke one. */
export interface ShareCommand {
  kind: "share";
  /** ROOT, as for serving. */
  root: string;
  /** Endpoint and profile of an `s3://` ROOT. */
  s3?: S3Options;
  /** `--share-secret` (or the environment's), else null: the store's own. */
  secret: string | null;
  /** What to do. */
  action:
    | {
      kind: "create";
      /** The URL path shared, as typed ("/photos/2026/"). */
      path: string;
      scope: "read" | "upload";
      lifetimeMs: number;
      maxBytes: number | null;
      /** The server's public URL, ending in "/". */
      baseUrl: string;
    }
    | { kind: "revoke"; id: string };
}

/** The default port; when it is taken and no port was given, the server picks a free one. */
export const DEFAULT_PORT = 8080;

/** Prefix of the environment variables read for options (besides PORT and HOST). */
export const ENV_PREFIX = "FILEDROP_";

/** The shells `filedrop completions` writes a script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** A shell `filedrop completions` writes a script for. */
export type Shell = typeof SHELLS[number];

/** The access log formats `--log` takes. */
export const LOG_FORMATS = ["common", "combined", "json", "off"] as const;

/** The words that may come first instead of options: the commands other than serving. */
export const SUBCOMMANDS = {
  "hash-password": "read a password on stdin, print its hash for --auth",
  completions: `print a completion script for ${SHELLS.join(", ")}`,
  healthcheck: "exit 0 if the server at URL (default http://127.0.0.1:$PORT/) answers",
  share: "print a share or drop link to PATH (or --revoke ID)",
} as const;

/** The headings of `--help`, in order, with any lines printed after their options. */
const SECTIONS = {
  config: { title: "Configuration", notes: [] },
  network: { title: "Network", notes: [] },
  writes: { title: "Writes", notes: [] },
  access: {
    title: "Access (README: Access)",
    notes: [
      "A RULE is WHO@/PATH[:PERMS][,/PATH[:PERMS]...]: WHO is empty for everyone,",
      "* for any signed-in user, or user names (a,b); PERMS are letters of rwd",
      "(read, write, delete; default r) or - for none. For each of everyone,",
      "signed-in users and the user, the longest matching PATH counts; a user",
      "may do what any of these may. Once there is a rule, what none grants is",
      "refused. Example: --rule 'admin@/:rwd' --rule '@/public' --rule 'bob@/team:rw'",
    ],
  },
  reads: { title: "Reads", notes: [] },
  s3: {
    title: "Object storage (ROOT = s3://BUCKET/PREFIX)",
    notes: [
      "The environment is read only with --allow-env; ~/.aws needs --allow-read",
      "(and --allow-env=HOME).",
    ],
  },
  output: { title: "Output", notes: [] },
  share: {
    title: "Share links (filedrop share PATH [ROOT])",
    notes: [
      "A link works with no account on every server of ROOT; they all read the",
      "secret (and revocations) from ROOT's hidden state unless --share-secret.",
    ],
  },
} as const;

/**
 * One command-line option: what node:util's `parseArgs` needs (`type`,
 * `short`, `multiple`) and what `--help` and the shell completions show.
 */
export interface OptionSpec {
  /** Whether the option takes a value. */
  readonly type: "string" | "boolean";
  /** The one-letter alias, as in `-h`. */
  readonly short?: string;
  /** The option may be given several times. */
  readonly multiple?: boolean;
  /** The value's name in `--help`, as in `--port N`. */
  readonly value?: string;
  /** What a shell offers for the value: file names, or one of these words. */
  readonly values?: "file" | readonly string[];
  /** The `--help` heading it is listed under. */
  readonly section: keyof typeof SECTIONS;
  /** Its description in `--help`, one line per element. */
  readonly help: readonly string[];
  /** A one-line description for the completions, when the first line of `help` is not one. */
  readonly brief?: string;
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
}

/**
 * Every option of the command, in `--help` order: the one table that
 * parsing, `--help` and the shell completions are made from.
 */
export const OPTIONS = {
  config: {
    type: "string",
    value: "FILE",
    values: "file",
    section: "config",
    help: [
      "read options from this YAML file (flags win; see",
      "docs/filedrop.example.yaml)",
    ],
    brief: "read options from this YAML file",
    env: "FILEDROP_CONFIG",
  },
  host: {
    type: "string",
    value: "ADDR",
    section: "network",
    help: ["address to bind (default 127.0.0.1)"],
    env: "HOST",
  },
  port: {
    type: "string",
    value: "N",
    section: "network",
    help: [
      "port (default 8080; 0 picks a free one; if 8080",
      "is taken and no port was given, a free one)",
    ],
    brief: "port (default 8080; 0 picks a free one)",
    env: "PORT",
  },
  "tls-cert": {
    type: "string",
    value: "FILE",
    values: "file",
    section: "network",
    help: ["serve HTTPS with this PEM certificate chain"],
  },
  "tls-key": {
    type: "string",
    value: "FILE",
    values: "file",
    section: "network",
    help: ["... and this PEM private key"],
    brief: "the PEM private key of --tls-cert",
  },
  cors: {
    type: "boolean",
    section: "network",
    help: ["let scripts on any origin read and write"],
  },
  workers: {
    type: "string",
    value: "N|auto",
    values: ["auto"],
    section: "network",
    help: ["serve with N workers on one port, one per core", "with auto (Linux; default 1)"],
    brief: "serve with N workers on one port (auto: one per core)",
    env: "FILEDROP_WORKERS",
  },
  "read-only": {
    type: "boolean",
    section: "writes",
    help: ["refuse every write with 403"],
    env: "FILEDROP_READ_ONLY",
  },
  "max-body": {
    type: "string",
    value: "SIZE",
    section: "writes",
    help: ["largest upload, e.g. 500M, 2G (default unlimited)"],
    env: "FILEDROP_MAX_BODY",
  },
  "no-fsync": {
    type: "boolean",
    section: "writes",
    help: [
      "answer before uploads are flushed to disk (faster;",
      "an acknowledged upload may be lost on power loss)",
    ],
    brief: "answer before uploads are flushed to disk",
  },
  "public-writes": {
    type: "boolean",
    section: "writes",
    help: ["allow anonymous writes on a non-loopback address"],
  },
  auth: {
    type: "string",
    multiple: true,
    value: "USER:PASS",
    section: "access",
    help: [
      "a user (HTTP Basic); repeatable; PASS may be a hash",
      "from 'filedrop hash-password'; without --rule,",
      "writes need a user",
    ],
    brief: "a user (HTTP Basic); without --rule, writes need one",
    env: "FILEDROP_AUTH",
  },
  "auth-reads": {
    type: "boolean",
    section: "access",
    help: ["without --rule: reads need a user too"],
  },
  rule: {
    type: "string",
    multiple: true,
    value: "RULE",
    section: "access",
    help: ["who may do what where (see below); repeatable"],
  },
  "auth-proxy-header": {
    type: "string",
    value: "NAME",
    section: "access",
    help: [
      "take the user's name from this header (set by a",
      "login proxy), only from a --trusted-proxy address",
    ],
    brief: "take the user's name from this header of a trusted proxy",
  },
  "trusted-proxy": {
    type: "string",
    multiple: true,
    value: "CIDR",
    section: "access",
    help: [
      "addresses of that proxy (10.0.0.5, 10.0.0.0/8,",
      "fd00::/8, comma-separated or repeated)",
    ],
    brief: "addresses (CIDR) whose --auth-proxy-header is believed",
  },
  "no-listing": {
    type: "boolean",
    section: "reads",
    help: ["404 for directories without index.html"],
  },
  dotfiles: {
    type: "boolean",
    section: "reads",
    help: ['serve and list names starting with "."'],
  },
  "follow-symlinks": {
    type: "boolean",
    section: "reads",
    help: [
      "follow symlinks that lead outside ROOT, for reads",
      "(UNSAFE: exposes whatever they point to)",
    ],
  },
  spa: {
    type: "boolean",
    section: "reads",
    help: ["answer unknown paths that accept HTML with /index.html"],
  },
  "no-compress": {
    type: "boolean",
    section: "reads",
    help: ["no gzip on the fly, no precompressed .br/.gz files"],
  },
  "cache-control": {
    type: "string",
    value: "VALUE",
    section: "reads",
    help: ["Cache-Control of file responses (default no-cache)"],
  },
  "s3-endpoint": {
    type: "string",
    value: "URL",
    section: "s3",
    help: [
      "the store's endpoint (default AWS_ENDPOINT_URL_S3,",
      "AWS_ENDPOINT_URL, the profile's endpoint_url, else",
      "AWS S3 in AWS_REGION, default us-east-1)",
    ],
    brief: "the S3 store's endpoint",
  },
  "s3-path-style": {
    type: "boolean",
    section: "s3",
    help: [
      "URLs as ENDPOINT/BUCKET/KEY (the default with a",
      "custom endpoint; AWS gets BUCKET.ENDPOINT/KEY)",
    ],
    brief: "S3 URLs as ENDPOINT/BUCKET/KEY",
  },
  "s3-profile": {
    type: "string",
    value: "NAME",
    section: "s3",
    help: [
      "take credentials, region and endpoint from this",
      "profile of ~/.aws/credentials and ~/.aws/config",
      '(default AWS_PROFILE, else "default"); without it,',
      "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/",
      "AWS_SESSION_TOKEN come first when readable",
    ],
    brief: "take S3 credentials, region and endpoint from this AWS profile",
  },
  "share-secret": {
    type: "string",
    value: "SECRET",
    section: "share",
    help: [
      "sign links with SECRET (16+ bytes; servers and",
      "'filedrop share' need the same; default: one",
      "generated into ROOT's hidden state)",
    ],
    brief: "sign share links with this secret",
    env: "FILEDROP_SHARE_SECRET",
  },
  read: {
    type: "boolean",
    section: "share",
    help: ["share: a read link (the default): the file, or", "the folder's tree, read-only"],
    brief: "share: a read-only link",
  },
  "upload-only": {
    type: "boolean",
    section: "share",
    help: ["share: a drop link: upload files into the folder,", "see nothing of it"],
    brief: "share: an upload-only drop link",
  },
  expires: {
    type: "string",
    value: "TIME",
    section: "share",
    help: ["share: the link works for TIME: 30m, 12h, 7d", "(default), 2w; at most 3650d"],
    brief: "share: how long the link works (default 7d)",
  },
  "max-bytes": {
    type: "string",
    value: "SIZE",
    section: "share",
    help: ["share: a drop link stores at most SIZE in all"],
  },
  "base-url": {
    type: "string",
    value: "URL",
    section: "share",
    help: ["share: the server's public URL (default", "http://127.0.0.1:$PORT/)"],
    brief: "share: the server's public URL",
  },
  revoke: {
    type: "string",
    value: "ID",
    section: "share",
    help: ["share: revoke the link with this id for good"],
  },
  log: {
    type: "string",
    value: "FORMAT",
    values: LOG_FORMATS,
    section: "output",
    help: [
      "access log on stdout, one line per request:",
      "common (default): Apache's Common Log Format",
      '  (%h %l %u %t "%r" %>s %b; no body bytes is -)',
      "combined: nginx's combined format (common, with",
      '  no body bytes as 0, plus "referer" "user-agent")',
      "json: also response time and head+body bytes",
      "off",
    ],
    brief: `access log format on stdout: ${LOG_FORMATS.join(", ")}`,
    env: "FILEDROP_LOG",
  },
  quiet: {
    type: "boolean",
    section: "output",
    help: ["no access log and no start-up details"],
  },
  help: { type: "boolean", short: "h", section: "output", help: ["show this help"] },
  version: { type: "boolean", short: "V", section: "output", help: ["show the version"] },
} as const satisfies Record<string, OptionSpec>;

/** Where descriptions start in `--help`, and how wide a line may be. */
const HELP_COLUMN = 25;
const HELP_WIDTH = 79;

/** How an option is written in `--help` and the completions: `-h, --help`, `--port N`. */
export function optionUsage(name: string, spec: OptionSpec): string {
  const flag = spec.short === undefined ? `--${name}` : `-${spec.short}, --${name}`;
  return spec.value === undefined ? flag : `${flag} ${spec.value}`;
}

/** The lines `--help` prints for one option, its environment variable flush right. */
function helpLines(name: string, spec: OptionSpec): string[] {
  const usage = `  ${optionUsage(name, spec)}`;
  const indent = " ".repeat(HELP_COLUMN);
  const out = usage.length + 2 <= HELP_COLUMN
    ? [usage.padEnd(HELP_COLUMN) + spec.help[0], ...spec.help.slice(1).map((line) => indent + line)]
    : [usage, ...spec.help.map((line) => indent + line)];
  if (spec.env !== undefined) {
    const tag = `[${spec.env}]`;
    const last = out[out.length - 1];
    if (last.length + 1 + tag.length <= HELP_WIDTH) {
      out[out.length - 1] = last.padEnd(HELP_WIDTH - tag.length) + tag;
    } else {
      out.push(tag.padStart(HELP_WIDTH));
    }
  }
  return out;
}

/** The `--help` text, made from {@linkcode OPTIONS}. */
export const HELP = [
  "Usage: filedrop [options] [ROOT]",
  "       filedrop hash-password      (reads a password on stdin, prints its hash)",
  `       filedrop completions SHELL  (prints a script for SHELL: ${SHELLS.join(", ")})`,
  "       filedrop healthcheck [URL]  (exits 0 if the server at URL answers)",
  "       filedrop share PATH [ROOT]  (prints a share or drop link; see below)",
  "       filedrop share --revoke ID [ROOT]",
  "",
  "Serves ROOT (default: the current directory) over HTTP: GET and HEAD read",
  "files, PUT uploads them atomically, DELETE removes them, MOVE renames them.",
  "ROOT may be s3://BUCKET/PREFIX: a bucket of an S3-compatible object store.",
  ...Object.entries(SECTIONS).flatMap(([section, { title, notes }]) => [
    "",
    `${title}:`,
    ...Object.entries(OPTIONS as Record<string, OptionSpec>)
      .filter(([, spec]) => spec.section === section)
      .flatMap(([name, spec]) => helpLines(name, spec)),
    ...notes.map((note) => `  ${note}`),
  ]),
  "",
  "Environment variables (in brackets) are read only when the process may read",
  "them (deno run --allow-env; the release binaries may); flags win over them.",
  "ROOT may also come from FILEDROP_ROOT.",
  "",
  "Examples:",
  "  filedrop                                serve the current directory on :8080",
  "  filedrop --read-only ./public           serve ./public without uploads",
  '  filedrop --host 0.0.0.0 --auth "me:$(filedrop hash-password)" ~/drop',
  "  curl -T photo.jpg http://127.0.0.1:8080/photos/photo.jpg",
  "  source <(filedrop completions bash)     complete filedrop's options in bash",
  "  filedrop share --upload-only --max-bytes 2G /inbox/ ~/drop",
  "                                          a week-long drop link to ~/drop/inbox",
  "",
].join("\n");

/** Parses a byte size such as `1048576`, `512K`, `1.5G` or `10MiB`. */
export function parseSize(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes === null) throw new UsageError(`invalid size: ${JSON.stringify(text)}`);
  return bytes;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`invalid port: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

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

/** Parses arguments against {@linkcode OPTIONS}; a bad one is a {@linkcode UsageError}. */
function parseOptions(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw usageErrorFrom(error);
  }
}

/** What a config file may set, and how: every option by its type. */
const CONFIG_KINDS: Record<string, ConfigKind> = Object.fromEntries(
  Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, spec]) => [
    name,
    spec.type === "boolean" ? "boolean" : spec.multiple ? "list" : "string",
  ]),
);

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

/** `healthcheck [URL]`: the URL to probe, by default this machine's server on PORT. */
function healthcheckUrl(args: string[], env: Record<string, string | undefined>): string {
  if (args.length > 2) throw new UsageError("healthcheck takes at most one URL");
  const url = args[1] ?? `http://127.0.0.1:${env.PORT ?? DEFAULT_PORT}/`;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new UsageError(
      `healthcheck needs an http:// or https:// URL, not ${JSON.stringify(url)}`,
    );
  }
  return url;
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
  if (args[0] === "completions") {
    const shell = SHELLS.find((name) => name === args[1]);
    if (shell === undefined || args.length !== 2) {
      throw new UsageError(`completions takes one shell: ${SHELLS.join(", ")}`);
    }
    return { kind: "completions", shell };
  }
  if (args[0] === "healthcheck") return { kind: "healthcheck", url: healthcheckUrl(args, env) };
  if (args[0] === "share") return parseShare(args.slice(1), env);
  let parsed = parseOptions(args);
  if (parsed.values.help) return { kind: "help" };
  if (parsed.values.version) return { kind: "version" };
  const configFile = parsed.values.config ?? env[`${ENV_PREFIX}CONFIG`];
  let configRoot: string | null = null;
  if (configFile !== undefined) {
    let fromFile;
    try {
      fromFile = readConfigFile(configFile, CONFIG_KINDS);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    configRoot = fromFile.root;
    // The file's options first: a flag given again wins, a repeatable one adds to the file's.
    parsed = parseOptions([...fromFile.args, ...args]);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError("only one ROOT directory may be given");

  for (const name of SHARE_ONLY) {
    if (values[name] !== undefined) throw new UsageError(`--${name} belongs to 'filedrop share'`);
  }
  const portText = values.port ?? env.PORT;
  const maxBody = values["max-body"] ?? env[`${ENV_PREFIX}MAX_BODY`];
  const auth = values.auth ?? (env[`${ENV_PREFIX}AUTH`] ? [env[`${ENV_PREFIX}AUTH`]!] : []);
  const options: ServeOptions = {
    root: positionals[0] ?? configRoot ?? env[`${ENV_PREFIX}ROOT`] ?? ".",
    hostname: values.host ?? env.HOST ?? "127.0.0.1",
    port: portText === undefined ? DEFAULT_PORT : parsePort(portText),
    readOnly: values["read-only"] ?? envFlag(env, `${ENV_PREFIX}READ_ONLY`) ?? false,
    fsync: !values["no-fsync"],
    listing: !values["no-listing"],
    dotfiles: values.dotfiles ?? false,
  };
  const shareSecret = values["share-secret"] ?? env[`${ENV_PREFIX}SHARE_SECRET`];
  if (shareSecret !== undefined) options.shareSecret = checkSecret(shareSecret);
  if (values.cors) options.cors = true;
  if (values.spa) options.spa = true;
  if (values["no-compress"]) options.compress = false;
  if (values["follow-symlinks"]) options.followSymlinks = true;
  if (values["public-writes"]) options.publicWrites = true;
  if (auth.length > 0) options.auth = auth;
  if (values["auth-reads"]) {
    if (auth.length === 0) throw new UsageError("--auth-reads needs --auth");
    if (values.rule !== undefined) {
      throw new UsageError("--auth-reads does not go with --rule: say who reads what with rules");
    }
    options.authReads = true;
  }
  if (values.rule !== undefined) {
    for (const rule of values.rule) {
      try {
        parseRule(rule);
      } catch (error) {
        if (error instanceof RuleSyntaxError) throw new UsageError(`--rule: ${error.message}`);
        throw error;
      }
    }
    options.rules = values.rule;
  }
  const proxyHeader = values["auth-proxy-header"];
  const trusted = (values["trusted-proxy"] ?? []).flatMap((list) => list.split(","));
  if ((proxyHeader === undefined) !== (trusted.length === 0)) {
    throw new UsageError("--auth-proxy-header and --trusted-proxy go together");
  }
  if (proxyHeader !== undefined) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(proxyHeader)) {
      throw new UsageError(`--auth-proxy-header: ${JSON.stringify(proxyHeader)} is no header name`);
    }
    for (const block of trusted) {
      try {
        parseCidr(block.trim());
      } catch (error) {
        throw new UsageError(`--trusted-proxy: ${(error as Error).message}`);
      }
    }
    options.authProxy = {
      header: proxyHeader,
      trustedProxies: trusted.map((block) => block.trim()),
    };
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
  const s3 = s3Options(options.root, s3Flags);
  if (s3 !== undefined) options.s3 = s3;

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

/** The options only `filedrop share` takes. */
const SHARE_ONLY = ["read", "upload-only", "expires", "max-bytes", "base-url", "revoke"] as const;

/** The `--s3-*` flags given, checked against ROOT; undefined when none were. */
function s3Options(
  root: string,
  flags: { endpoint?: string; pathStyle?: boolean; profile?: string },
): S3Options | undefined {
  if (!Object.values(flags).some((value) => value !== undefined)) return undefined;
  if (!/^s3:\/\//i.test(root)) throw new UsageError("--s3-* options need an s3:// ROOT");
  return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
}

function checkSecret(secret: string): string {
  if (new TextEncoder().encode(secret).length < 16) {
    throw new UsageError("--share-secret needs at least 16 bytes");
  }
  return secret;
}

const DURATION = /^([0-9]+)([smhdw])$/;
const DURATION_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `30m`, `12h`, `7d`, `2w` in ms; a link lasts one second to ten years. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const ms = match === null ? NaN : Number(match[1]) * DURATION_MS[match[2]];
  if (!(ms >= 1000 && ms <= 3650 * 86_400_000)) {
    throw new UsageError(
      `--expires takes a time from 1s to 3650d such as 30m, 12h, 7d or 2w, not ${
        JSON.stringify(text)
      }`,
    );
  }
  return ms;
}

/** `filedrop share ...`: the arguments after `share`. */
function parseShare(args: string[], env: Record<string, string | undefined>): Command {
  const names = [
    ...SHARE_ONLY,
    "share-secret",
    "s3-endpoint",
    "s3-path-style",
    "s3-profile",
  ] as const;
  const options = Object.fromEntries(names.map((name) => [name, OPTIONS[name]]));
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options });
  } catch (error) {
    throw usageErrorFrom(error);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  const revoke = values.revoke as string | undefined;
  const [path, rootArgument] = revoke === undefined ? positionals : [undefined, ...positionals];
  if (positionals.length > (revoke === undefined ? 2 : 1)) {
    throw new UsageError("share takes a PATH and at most one ROOT");
  }
  const root = rootArgument ?? env[`${ENV_PREFIX}ROOT`] ?? ".";
  const secretText = (values["share-secret"] as string | undefined) ??
    env[`${ENV_PREFIX}SHARE_SECRET`];
  const command: ShareCommand = {
    kind: "share",
    root,
    secret: secretText === undefined ? null : checkSecret(secretText),
    action: { kind: "revoke", id: revoke ?? "" },
  };
  const s3 = s3Options(root, {
    endpoint: values["s3-endpoint"] as string | undefined,
    pathStyle: values["s3-path-style"] as boolean | undefined,
    profile: values["s3-profile"] as string | undefined,
  });
  if (s3 !== undefined) command.s3 = s3;
  if (revoke !== undefined) {
    if (!/^[0-9a-f]{16}$/.test(revoke)) {
      throw new UsageError(
        `--revoke takes a link id (16 hex digits), not ${JSON.stringify(revoke)}`,
      );
    }
    const creating = ["read", "upload-only", "expires", "max-bytes", "base-url"];
    const mixed = creating.find((name) => values[name] !== undefined);
    if (mixed !== undefined) throw new UsageError(`--revoke does not go with --${mixed}`);
    return command;
  }
  if (path === undefined || !path.startsWith("/")) {
    throw new UsageError("share needs the PATH to share, as a URL path such as /photos/");
  }
  if (values.read && values["upload-only"]) {
    throw new UsageError("a link is --read or --upload-only, not both");
  }
  const scope = values["upload-only"] ? "upload" : "read";
  const maxBytesText = values["max-bytes"] as string | undefined;
  if (maxBytesText !== undefined && scope !== "upload") {
    throw new UsageError("--max-bytes is for --upload-only links");
  }
  const maxBytes = maxBytesText === undefined ? null : parseSize(maxBytesText);
  if (maxBytes === 0) throw new UsageError("--max-bytes must be more than 0");
  const port = env.PORT ?? String(DEFAULT_PORT);
  const baseUrl = (values["base-url"] as string | undefined) ?? `http://127.0.0.1:${port}/`;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw new UsageError(
      `--base-url needs an http:// or https:// URL, not ${JSON.stringify(baseUrl)}`,
    );
  }
  command.action = {
    kind: "create",
    path,
    scope,
    lifetimeMs: parseDuration((values.expires as string | undefined) ?? "7d"),
    maxBytes,
    baseUrl: baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
  };
  return command;
}
