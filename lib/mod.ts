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

import type { ConnectionContext, ExchangeRecord } from "./server/connection.ts";
import { BasicAuth, hashPassword, parseCredential } from "./policy/auth.ts";
import type { Credential } from "./policy/auth.ts";
import { Access, AccessPolicy, legacyRules } from "./policy/access.ts";
import type { AccessRule, ProxyAuthOptions } from "./policy/access.ts";
import { parseRule } from "./policy/rule_syntax.ts";
import { withCors } from "./policy/cors.ts";
import { ShareError, ShareLinks, withShareCreation, withShareLinks } from "./policy/share_links.ts";
import { isPublicBind, withGuard } from "./policy/guard.ts";
import { allowedMethods, createHandler } from "./handlers/router.ts";
import { DEFAULT_SEARCH_LIMITS } from "./handlers/search.ts";
import type { SearchLimits } from "./handlers/search.ts";
import { FileCache } from "./storage/file_cache.ts";
import { KeyedLock } from "./storage/keyed_lock.ts";
import { DEFAULT_LIMITS } from "./server/limits.ts";
import type { Limits } from "./server/limits.ts";
import { ResumableUploads } from "./handlers/resumable.ts";
import { FsUploadStore } from "./storage/fs_uploads.ts";
import { FsStorage } from "./storage/fs.ts";
import type { S3Storage } from "./storage/s3.ts";
import type { Storage } from "./storage/storage.ts";
import { isS3Root } from "./storage/s3_config.ts";
import type { S3Options } from "./storage/s3_config.ts";
import { acceptInto, ConnectionPool } from "./server/accept_loop.ts";
import type { RunningServer } from "./server/accept_loop.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The directory to serve and upload into, or `s3://bucket/prefix`: a
   * bucket of an S3-compatible store (endpoint and credentials from `s3`,
   * the `AWS_*` environment variables and `~/.aws`; see lib/storage/s3.ts).
   */
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
  /** With `auth`, reads need credentials too; default false. Not with `rules`. */
  authReads?: boolean;
  /**
   * Access rules, as `WHO@/PATH[:PERMS],...` (lib/policy/rule_syntax.ts):
   * once there is one, only what they grant is allowed. Users come from `auth`.
   */
  rules?: string[];
  /**
   * Take the user's name from this header of requests that come from these
   * addresses (a reverse proxy that did the login); the header is ignored
   * from anyone else.
   */
  authProxy?: ProxyAuthOptions;
  /**
   * Accept writes without `auth` on a non-loopback address; default false, in
   * which case such a server refuses to start.
   */
  publicWrites?: boolean;
  /**
   * Share the port with other listeners that set it too (`SO_REUSEPORT`,
   * Linux; the kernel spreads connections among them): how the workers of
   * `--workers` share one port. Not with `tls`. Default false.
   */
  reusePort?: boolean;
  /**
   * Remove crash debris (temp files no live writer owns) at start-up; default
   * true. Of several servers on one ROOT started together, one is enough.
   */
  sweepOnStart?: boolean;
  /** Serve HTTPS with this PEM certificate chain and private key. */
  tls?: { cert: string; key: string };
  /**
   * The secret share links are signed with (at least 16 bytes); default: one
   * generated into the store's state (`.filedrop-tmp-state/share/secret`)
   * when the first link is made, which every instance on the store reads.
   */
  shareSecret?: string;
  /** Follow symlinks whose target is outside ROOT, for reads only (unsafe); default false. */
  followSymlinks?: boolean;
  /** How long an unfinished resumable upload is kept, in ms; default one day. */
  uploadExpiryMs?: number;
  /** Keep small files in memory (checked against `stat` on every request); default true. */
  cache?: boolean;
  /** Endpoint, addressing style, profile, region or credentials of an `s3://` root. */
  s3?: S3Options;
  /**
   * How far a search below a folder (`?q=`) may go; unset bounds take
   * {@linkcode DEFAULT_SEARCH_LIMITS}.
   */
  search?: Partial<SearchLimits>;
  /** Protocol limits and timeouts; unset ones take {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<Limits>;
  /** Called after each response (for an access log). */
  onExchange?: (record: ExchangeRecord) => void;
  /** Called with unexpected errors; default prints them to stderr. */
  onError?: (error: unknown) => void;
  /**
   * Called with summary lines for the operator (connections reset before they
   * were served, accepting paused for want of file descriptors), at most one a
   * minute of each kind; default prints them to stderr.
   */
  onNotice?: (message: string) => void;
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
  /**
   * Creates the error.
   *
   * @param message what is exposed and how to fix it; shown to the user as is
   */
  constructor(message: string) {
    super(message);
    this.name = "InsecureConfigurationError";
  }
}

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** Options of {@linkcode createConnectionHandler}: those of {@linkcode serve} that are not about a listener. */
export type ConnectionHandlerOptions = Omit<
  ServeOptions,
  "hostname" | "port" | "tls" | "publicWrites" | "reusePort"
>;

/** Serves HTTP/1.1 on connections the caller accepted itself (TCP, TLS, a Unix socket). */
export interface ConnectionHandler {
  /** ROOT's real path. */
  readonly root: string;
  /** Serves `conn` until it ends; resolves once it is closed; never rejects. */
  serveConnection(conn: Deno.Conn): Promise<void>;
  /** Lets requests in flight finish (up to `limits.shutdownGraceMs`), then closes every connection. */
  shutdown(): Promise<void>;
  /** Settles with the temp files of crashed uploads removed at start-up. */
  readonly staleTempsRemoved: Promise<string[]>;
}

/** The parts of a server that do not depend on how connections arrive. */
interface Core {
  rootReal: string;
  limits: Limits;
  /** The connection context, given whether the connection came to a loopback address. */
  context(loopback: boolean): ConnectionContext;
  onError: (error: unknown) => void;
  /** Removes crash debris: temp files under ROOT that no live writer owns. */
  removeStaleTemps(): Promise<string[]>;
  /** Stops background work (the resumable-upload sweeper) and gives up the store's claims. */
  close(): Promise<void>;
}

/** Resumable uploads not completed within a day are removed. */
const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;

/**
 * Opens the store of `options.root`: a directory, or a bucket for an `s3://`
 * ROOT. The S3 modules are loaded only for a bucket: a server of a directory
 * is spared their memory (with their HTTP client, a few megabytes per worker).
 */
async function openStore(
  options: ConnectionHandlerOptions,
  locks: KeyedLock,
): Promise<{ storage: FsStorage | S3Storage; rootReal: string }> {
  const s3 = isS3Root(options.root)
    ? await (await import("./storage/s3.ts")).openS3Storage(options.root, options.s3 ?? {}, locks)
    : null;
  const rootReal = s3?.label ?? await Deno.realPath(options.root);
  if (s3 === null && !(await Deno.stat(rootReal)).isDirectory) {
    throw new Error(`${options.root} is not a directory`);
  }
  const storage = s3?.storage ?? new FsStorage({
    rootReal,
    fsync: options.fsync ?? true,
    followSymlinks: options.followSymlinks ?? false,
    cache: options.cache === false ? null : new FileCache(CACHE_LIMITS),
    locks,
  });
  return { storage, rootReal };
}

/**
 * The share links of ROOT (what `filedrop share` uses): makes and revokes
 * links that every server of ROOT honours. Close the store when done.
 */
export async function openShareLinks(
  options: Pick<ServeOptions, "root" | "s3" | "shareSecret">,
): Promise<{ links: ShareLinks; storage: Storage; close(): Promise<void> }> {
  const { storage } = await openStore({ ...options, cache: false }, new KeyedLock());
  const links = new ShareLinks(storage, options.shareSecret ?? null);
  return { links, storage, close: () => storage.close() };
}

async function buildCore(options: ConnectionHandlerOptions): Promise<Core> {
  const locks = new KeyedLock();
  const { storage, rootReal } = await openStore(options, locks);
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const readOnly = options.readOnly ?? false;
  const credentials = (options.auth ?? []).map(parseCredential);
  const rules = (options.rules ?? []).flatMap(parseRule);
  const fsync = options.fsync ?? true;
  const uploads = readOnly
    ? null
    : storage instanceof FsStorage
    ? new FsUploadStore({ storage, fsync, locks })
    : new (await import("./storage/s3_uploads.ts")).S3UploadStore({ storage });
  let resumable: ResumableUploads | null = null;
  try {
    resumable = uploads && new ResumableUploads({
      uploads,
      storage,
      maxBodyBytes: limits.maxBodyBytes,
      expiryMs: options.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS,
    });
  } catch (error) {
    await uploads?.close(); // A bad lifetime: stop the store's restoring walk.
    throw error;
  }
  const readConfig = {
    storage,
    readOnly,
    dotfiles: options.dotfiles ?? false,
    listing: options.listing ?? true,
    cacheControl: options.cacheControl ?? "no-cache",
    compress: options.compress ?? true,
    spa: options.spa ?? false,
    searchLimits: { ...DEFAULT_SEARCH_LIMITS, ...options.search },
  };
  const access = accessFor(options, credentials, rules, storage);
  const routes = createHandler({
    ...readConfig,
    maxBodyBytes: limits.maxBodyBytes,
    resumable,
    access,
  });
  const links = new ShareLinks(storage, options.shareSecret ?? null);
  const cors = options.cors ?? false;
  let handler = withShareCreation(routes, { links, storage, readOnly, access });
  // PATCH appends to resumable uploads.
  if (cors) handler = withCors(handler, allowedMethods(readOnly) + (resumable ? ", PATCH" : ""));
  // A link is its own credential: its requests need no --auth (and get no CORS).
  // Its reads are its grant's: no rules filter what it shows (they were checked when it was made).
  handler = withShareLinks(handler, { links, read: { ...readConfig, access: null } });
  const onError = options.onError ??
    ((error: unknown) => console.error("filedrop: internal error:", error));
  const contexts = [false, true].map((loopbackOnly): ConnectionContext => ({
    limits,
    // Outermost, so rebinding and cross-site requests cost no password hashing.
    handler: withGuard(handler, { loopbackOnly, cors }),
    onExchange: options.onExchange,
    onError: (error) => onError(error),
  }));
  const close = async () => {
    await resumable?.close();
    await storage.close();
  };
  return {
    rootReal,
    limits,
    context: (loopback) => contexts[loopback ? 1 : 0],
    onError,
    removeStaleTemps: () => storage.removeStaleTemps(),
    close,
  };
}

/**
 * The access layer of `options`: null when everyone may do everything (no
 * users, no rules), else the rules (or those `--auth` and `--auth-reads`
 * stand for) with the users. Throws for rules that name unknown users.
 */
function accessFor(
  options: ConnectionHandlerOptions,
  credentials: Credential[],
  rules: AccessRule[],
  storage: FsStorage | S3Storage,
): Access | null {
  const fileSystem = storage instanceof FsStorage;
  const proxy = options.authProxy ?? null;
  if (credentials.length === 0 && rules.length === 0 && proxy === null) return null;
  if (rules.length > 0 && options.authReads) {
    throw new Error("--auth-reads does not go with --rule: say who reads what with rules");
  }
  const users = new Set(credentials.map((credential) => credential.user.normalize("NFC")));
  for (const rule of rules) {
    // Behind a proxy, users are whoever it names: no list to check against.
    if (proxy === null && rule.audience.kind === "user" && !users.has(rule.audience.name)) {
      throw new Error(
        `a rule names the user ${JSON.stringify(rule.audience.name)}, who has no --auth`,
      );
    }
  }
  // Where the file system finds /Team for /team, a rule for one must hold for the other.
  const caseInsensitive = fileSystem && ["darwin", "windows"].includes(Deno.build.os);
  const effective = rules.length > 0 ? rules : legacyRules(options.authReads ?? false);
  const policy = new AccessPolicy(effective, { caseInsensitive });
  // Where every rule is on "/", a path and where it leads get the same answer: no lookup needed.
  const pathRules = fileSystem && effective.some((rule) => rule.path.length > 0);
  return new Access({
    policy,
    basic: credentials.length === 0 ? null : new BasicAuth({ credentials }),
    proxy,
    onNotice: options.onNotice,
    realPathOf: pathRules ? (path) => storage.realSegments(path) : null,
  });
}

/** Whether a connection arrived on a loopback address (a Unix socket counts as local). */
function isLoopbackConnection(conn: Deno.Conn): boolean {
  const local = conn.localAddr;
  return !("hostname" in local) || !isPublicBind(local.hostname);
}

/**
 * Builds the server's handler layer without a listener: the caller accepts
 * connections (from `Deno.listenTls`, a Unix socket, systemd...) and hands
 * each to `serveConnection`. Locks, the file cache and timeouts are shared by
 * all of them. The DNS-rebinding guard applies to connections that arrived
 * on a loopback address.
 *
 * @example
 * ```ts
 * const files = await createConnectionHandler({ root: "./public", readOnly: true });
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 8080 });
 * for await (const conn of listener) files.serveConnection(conn);
 * ```
 */
export async function createConnectionHandler(
  options: ConnectionHandlerOptions,
): Promise<ConnectionHandler> {
  const core = await buildCore(options);
  const pool = new ConnectionPool(
    (conn) => core.context(isLoopbackConnection(conn)),
    core.limits,
  );
  const staleTempsRemoved = core.removeStaleTemps();
  return {
    root: core.rootReal,
    serveConnection: (conn) => pool.serve(conn),
    shutdown: async () => {
      await pool.shutdown();
      await core.close();
      await staleTempsRemoved;
    },
    staleTempsRemoved,
  };
}

/**
 * Starts a file server for `options.root` and resolves once it is listening.
 * Throws if ROOT is not a directory, the address cannot be bound, or the
 * server would accept anonymous writes from other machines
 * ({@linkcode InsecureConfigurationError}).
 *
 * @example
 * ```ts
 * const server = await serve({ root: "./public", port: 0 });
 * console.log(server.url);
 * await server.shutdown();
 * ```
 */
export async function serve(options: ServeOptions): Promise<FileServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const rules = (options.rules ?? []).flatMap(parseRule);
  const anonymousWrites = !options.readOnly &&
    (rules.length > 0
      ? rules.some((rule) =>
        rule.audience.kind === "everyone" && rule.actions.some((a) => a !== "read")
      )
      : (options.auth ?? []).length === 0 && options.authProxy === undefined);
  if (isPublicBind(hostname) && anonymousWrites && !options.publicWrites) {
    throw new InsecureConfigurationError(
      `refusing to accept anonymous uploads on ${hostname}, which is reachable from other ` +
        "machines: add --auth USER:PASSWORD, or --read-only, or --public-writes to accept the risk",
    );
  }
  const core = await buildCore(options);
  const port = options.port ?? 8080;
  let listener: Deno.Listener;
  try {
    listener = options.tls === undefined
      ? Deno.listen({ hostname, port, reusePort: options.reusePort ?? false })
      : Deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key });
  } catch (error) {
    // Nothing may outlive a failed bind (callers retry on another port).
    await core.close();
    throw error;
  }
  const context = core.context(!isPublicBind((listener.addr as Deno.NetAddr).hostname));
  const pool = new ConnectionPool(() => context, core.limits);
  const running = acceptInto(listener, pool, {
    onError: core.onError,
    onNotice: options.onNotice ?? ((message) => console.error(`filedrop: ${message}`)),
  });
  const scheme = options.tls === undefined ? "http" : "https";
  const url = `${scheme}://${hostForUrl(running.addr.hostname)}:${running.addr.port}/`;
  const staleTempsRemoved = options.sweepOnStart === false
    ? Promise.resolve([])
    : core.removeStaleTemps();
  return {
    addr: running.addr,
    get openConnections() {
      return running.openConnections;
    },
    finished: running.finished,
    shutdown: async () => {
      await running.shutdown();
      await core.close();
      await staleTempsRemoved;
    },
    url,
    root: core.rootReal,
    staleTempsRemoved,
  };
}

export { DEFAULT_LIMITS, DEFAULT_SEARCH_LIMITS, hashPassword, ShareError };
export type { ExchangeRecord, Limits, RunningServer, SearchLimits };
export type { Request as ParsedRequest, RequestBody } from "./http/message.ts";
export type { TargetForm } from "./http/head_parser.ts";
export type { HeaderList } from "./http/serialize.ts";
