/**
 * The command line: parses arguments into {@linkcode ServeOptions}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ServeOptions } from "./mod.ts";

/** Thrown for a bad command line; the message is shown to the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What the command should do. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "serve"; options: ServeOptions; portWasDefault: boolean };

/** The default port; when it is taken and no port was given, the server picks a free one. */
export const DEFAULT_PORT = 8080;

/** The `--help` text. */
export const HELP = `Usage: filedrop [options] [ROOT]

Serves ROOT (default: the current directory) over HTTP: GET and HEAD read
files, PUT uploads them atomically, DELETE removes them.

Network:
  --host ADDR            address to bind (default 127.0.0.1)
  --port N               port to bind (default 8080; 0 picks a free port;
                         if 8080 is taken a free port is used)
Writes:
  --read-only            refuse PUT and DELETE with 403
  --max-body SIZE        largest upload, e.g. 500M, 2G (default: unlimited)
  --no-fsync             do not flush uploads to disk before answering
                         (faster; an acknowledged upload may be lost on power loss)
Reads:
  --no-listing           answer 404 for directories without index.html
  --dotfiles             serve and list names starting with "."
  --cache-control VALUE  Cache-Control of file responses (default no-cache)
Other:
  -h, --help             show this help
  -V, --version          show the version

Examples:
  filedrop                         serve the current directory on :8080
  filedrop --read-only ./public    serve ./public without uploads
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

/** Parses `args` into a command. Throws {@linkcode UsageError} on a bad command line. */
export function parseCommandLine(args: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "read-only": { type: "boolean" },
        "max-body": { type: "string" },
        "no-fsync": { type: "boolean" },
        "no-listing": { type: "boolean" },
        dotfiles: { type: "boolean" },
        "cache-control": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    // node:util goes on after the first sentence with advice about "--"; one line is enough.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(". ")[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 1) throw new UsageError("only one ROOT directory may be given");
  const options: ServeOptions = {
    root: positionals[0] ?? ".",
    hostname: values.host ?? "127.0.0.1",
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port),
    readOnly: values["read-only"] ?? false,
    fsync: !values["no-fsync"],
    listing: !values["no-listing"],
    dotfiles: values.dotfiles ?? false,
  };
  if (values["cache-control"] !== undefined) {
    if (/[\r\n\0]/.test(values["cache-control"])) throw new UsageError("invalid --cache-control");
    options.cacheControl = values["cache-control"];
  }
  if (values["max-body"] !== undefined) {
    options.limits = { maxBodyBytes: parseSize(values["max-body"]) };
  }
  return { kind: "serve", options, portWasDefault: values.port === undefined };
}
