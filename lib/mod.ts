/**
 * A static-file and upload HTTP/1.1 server on a hand-written, sans-IO parser.
 *
 * @example
 * ```ts
 * import { serve } from "./lib/mod.ts";
 * const server = await serve({ root: "./public", port: 0 });
 * console.log(server.url);
 * await server.shutdown();
 * ```
 *
 * @module
 */

import type { ExchangeRecord } from "./connection.ts";
import { hashPassword, parseCredential, withAuth } from "./auth.ts";
import { withCors } from "./cors.ts";
import { isPublicBind, withGuard } from "./guard.ts";
import { allowedMethods, createHandler } from "./handler.ts";
import { FileCache } from "./file_cache.ts";
import { KeyedLock } from "./keyed_lock.ts";
import { DEFAULT_LIMITS } from "./options.ts";
import type { Limits } from "./options.ts";
import { runServer } from "./server.ts";
import { removeStaleTemps } from "./temp_files.ts";
import type { RunningServer } from "./server.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** The directory to serve and upload into. */
  root: string;
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port to bind; default 8080; 0 lets the OS choose. */
  port?: number;
  /** Refuse every write (PUT, DELETE) with 403; default false. */
  readOnly?: boolean;
  /** fsync uploads and their directory before answering; default true. */
  fsync?: boolean;
  /** Serve and list names starting with "."; default false. */
  dotfiles?: boolean;
  /** List directories that have no index.html; default true. */
  listing?: boolean;
  /** `Cache-Control` of file responses; default "no-cache" (revalidate every time). */
  cacheControl?: string;
  /** Serve precompressed `.br`/`.gz` siblings and gzip text on the fly; default true. */
  compress?: boolean;
  /** Answer unknown paths that accept HTML with /index.html; default false. */
  spa?: boolean;
  /** Allow cross-origin reads and writes from any origin (CORS `*`); default false. */
  cors?: boolean;
  /**
   * Users allowed to write, as `user:password` or `user:$pbkdf2-sha256$…` (from
   * {@linkcode hashPassword}); when set, writes need HTTP Basic credentials.
   */
  auth?: string[];
  /** With `auth`, reads need credentials too; default false. */
  authReads?: boolean;
  /**
   * Accept writes without `auth` on a non-loopback address; default false, in
   * which case such a server refuses to start.
   */
  publicWrites?: boolean;
  /** Serve HTTPS with this PEM certificate chain and private key. */
  tls?: { cert: string; key: string };
  /** Follow symlinks whose target is outside ROOT, for reads only (unsafe); default false. */
  followSymlinks?: boolean;
  /** Keep small files in memory (checked against `stat` on every request); default true. */
  cache?: boolean;
  /** Protocol limits and timeouts; unset ones take {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<Limits>;
  /** Called after each response (for an access log). */
  onExchange?: (record: ExchangeRecord) => void;
  /** Called with unexpected errors; default prints them to stderr. */
  onError?: (error: unknown) => void;
}

/** A running file server. */
export interface FileServer extends RunningServer {
  /** The base URL, such as `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** ROOT's real path. */
  readonly root: string;
  /** Settles with the temp files of crashed uploads removed at start-up (a background walk of ROOT). */
  readonly staleTempsRemoved: Promise<string[]>;
}

/** Files up to 256 KiB, 64 MiB in all: small enough to stay far below the memory goals. */
const CACHE_LIMITS = { maxFileBytes: 256 * 1024, maxTotalBytes: 64 * 1024 * 1024 };

/** Thrown by {@linkcode serve} for a configuration that would expose writes to everyone. */
export class InsecureConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InsecureConfigurationError";
  }
}

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Starts a file server for `options.root` and resolves once it is listening.
 * Throws if ROOT is not a directory or the address cannot be bound.
 */
export async function serve(options: ServeOptions): Promise<FileServer> {
  const rootReal = await Deno.realPath(options.root);
  if (!(await Deno.stat(rootReal)).isDirectory) {
    throw new Error(`${options.root} is not a directory`);
  }
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const readOnly = options.readOnly ?? false;
  const credentials = (options.auth ?? []).map(parseCredential);
  const hostname = options.hostname ?? "127.0.0.1";
  if (isPublicBind(hostname) && !readOnly && credentials.length === 0 && !options.publicWrites) {
    throw new InsecureConfigurationError(
      `refusing to accept anonymous uploads on ${hostname}, which is reachable from other ` +
        "machines: add --auth USER:PASSWORD, or --read-only, or --public-writes to accept the risk",
    );
  }
  const routes = createHandler({
    rootReal,
    readOnly,
    fsync: options.fsync ?? true,
    dotfiles: options.dotfiles ?? false,
    listing: options.listing ?? true,
    cacheControl: options.cacheControl ?? "no-cache",
    compress: options.compress ?? true,
    spa: options.spa ?? false,
    followSymlinks: options.followSymlinks ?? false,
    cache: options.cache === false ? null : new FileCache(CACHE_LIMITS),
    locks: new KeyedLock(),
    maxBodyBytes: limits.maxBodyBytes,
  });
  const onError = options.onError ??
    ((error: unknown) => console.error("filedrop: internal error:", error));
  const port = options.port ?? 8080;
  const listener = options.tls === undefined
    ? Deno.listen({ hostname, port })
    : Deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key });
  const bound = listener.addr as Deno.NetAddr;
  const cors = options.cors ?? false;
  let handler = credentials.length === 0
    ? routes
    : withAuth(routes, { credentials, protectReads: options.authReads ?? false });
  if (cors) handler = withCors(handler, allowedMethods(readOnly));
  // Outermost, so rebinding and cross-site requests cost no password hashing.
  handler = withGuard(handler, { loopbackOnly: !isPublicBind(bound.hostname), cors });
  const running = runServer(listener, {
    limits,
    handler,
    onExchange: options.onExchange,
    onError: (error) => onError(error),
  });
  const scheme = options.tls === undefined ? "http" : "https";
  const url = `${scheme}://${hostForUrl(running.addr.hostname)}:${running.addr.port}/`;
  const staleTempsRemoved = removeStaleTemps(rootReal);
  const shutdown = async () => {
    await running.shutdown();
    await staleTempsRemoved;
  };
  return { ...running, shutdown, url, root: rootReal, staleTempsRemoved };
}

export { DEFAULT_LIMITS, hashPassword };
export type { ExchangeRecord, Limits, RunningServer };
