/**
 * The `filedrop` command: serves a directory over HTTP until SIGINT or SIGTERM.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { AccessLogger, escapeLogValue } from "./lib/server/access_log.ts";
import { HELP, parseCommandLine, UsageError } from "./lib/cli.ts";
import { completionScript } from "./lib/completions.ts";
import { checkHealth } from "./lib/healthcheck.ts";
import type { Command } from "./lib/cli.ts";
import {
  hashPassword,
  InsecureConfigurationError,
  openShareLinks,
  serve,
  ShareError,
} from "./lib/mod.ts";
import { checkNewLink } from "./lib/policy/share_links.ts";
import { decodeUrlPath } from "./lib/handlers/url_path.ts";
import { HttpError } from "./lib/http/errors.ts";
import type { ServeOptions } from "./lib/mod.ts";
import { serveWithWorkers } from "./lib/server/workers.ts";
import type { WorkerReports } from "./lib/server/workers.ts";
import { isS3Root, S3ConfigError } from "./lib/storage/s3_config.ts";

function fail(message: string): never {
  console.error(`filedrop: ${message}`);
  Deno.exit(2);
}

/** The environment, when this process may read it (the compiled binary may; `deno run` needs --allow-env). */
function readableEnvironment(): Record<string, string> {
  return Deno.permissions.querySync({ name: "env" }).state === "granted" ? Deno.env.toObject() : {};
}

/** What the command needs of a running server: one on this thread, or several workers. */
interface Running {
  root: string;
  url: string;
  port: number;
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** Starts the server; every way that can fail ends the process with one line on stderr. */
async function listen(
  options: ServeOptions,
  portWasDefault: boolean,
  start: (options: ServeOptions) => Promise<Running>,
): Promise<Running> {
  try {
    return await start(options);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse && portWasDefault) {
      console.error(`filedrop: port ${options.port} is in use; picking a free port instead`);
      return await listen({ ...options, port: 0 }, false, start);
    }
    if (error instanceof Deno.errors.AddrInUse) fail(`port ${options.port} is already in use`);
    if (error instanceof Deno.errors.AddrNotAvailable) {
      fail(`cannot bind address ${options.hostname}`);
    }
    if (error instanceof InsecureConfigurationError) fail(error.message);
    // No credentials, no bucket, no answer from the store: said as is (never with a secret).
    if (error instanceof S3ConfigError) fail(error.message);
    // A host name that does not resolve, a bad --auth value, a bad certificate, a port needing privileges.
    const reason = error instanceof Error ? error.message : String(error);
    fail(`cannot serve on ${options.hostname} port ${options.port}: ${reason}`);
  }
}

async function readPassword(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
  const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  return text.replace(/\r?\n$/, "");
}

/** The banner's auth line: users, rules, and the login proxy. */
function describeAccess(options: ServeOptions): string {
  const users = options.auth?.length ?? 0;
  const proxy = options.authProxy === undefined
    ? ""
    : `; users named by ${options.authProxy.header} from ${
      options.authProxy.trustedProxies.join(", ")
    }`;
  if (options.rules?.length) return `${options.rules.length} rule(s), ${users} user(s)${proxy}`;
  if (users === 0 && proxy === "") return "off";
  return `${users} user(s)${proxy}, for ${options.authReads ? "reads and writes" : "writes"}`;
}

function describe(server: Running, options: ServeOptions, workers: number): string[] {
  const on = (flag: boolean | undefined) => (flag ? "on" : "off");
  const s3 = isS3Root(options.root);
  const writes = options.readOnly
    ? "off (--read-only)"
    : s3
    ? `on (PUT, POST forms, resumable, DELETE, MOVE${
      options.limits?.maxBodyBytes === undefined ? "" : `; max ${options.limits.maxBodyBytes} bytes`
    })`
    : `on (PUT, POST forms, resumable, DELETE, MOVE; fsync ${on(options.fsync)}${
      options.limits?.maxBodyBytes === undefined ? "" : `; max ${options.limits.maxBodyBytes} bytes`
    })`;
  const lines = [
    `  root:     ${server.root}`,
    `  uploads:  ${writes}`,
    `  auth:     ${describeAccess(options)}`,
    `  TLS:      ${on(options.tls !== undefined)}`,
    `  listings: ${on(options.listing)}`,
    `  workers:  ${workers === 1 ? "1 (--workers N to use more cores)" : workers}`,
  ];
  if (options.hostname === "0.0.0.0" || options.hostname === "::") {
    lines.push(`  reachable on every interface of this machine at port ${server.port}`);
  }
  return lines;
}

async function runServe(command: Extract<Command, { kind: "serve" }>): Promise<void> {
  const { options, portWasDefault, reporting, tlsFiles } = command;
  let workers = command.workers;
  // An s3:// ROOT is checked by serve() (one listing of the bucket).
  if (!isS3Root(options.root)) {
    let root: Deno.FileInfo;
    try {
      root = await Deno.stat(options.root);
    } catch {
      fail(`ROOT ${JSON.stringify(options.root)} does not exist or cannot be read`);
    }
    if (!root.isDirectory) fail(`ROOT ${JSON.stringify(options.root)} is not a directory`);
  }
  if (tlsFiles !== null) {
    try {
      options.tls = {
        cert: await Deno.readTextFile(tlsFiles.cert),
        key: await Deno.readTextFile(tlsFiles.key),
      };
    } catch {
      fail(`cannot read --tls-cert ${tlsFiles.cert} or --tls-key ${tlsFiles.key}`);
    }
  }
  const logging = reporting.log !== "off" && !reporting.quiet;
  const logger = logging
    ? new AccessLogger(
      reporting.log as Exclude<typeof reporting.log, "off">,
      (bytes) => Deno.stdout.write(bytes),
      {
        // A log with holes must say so: once per 10 s at most, and at shutdown (flush).
        onDropped: (lines, total) =>
          console.error(
            `filedrop: ${lines} access log line(s) dropped: stdout too slow or closed ` +
              `(${total} since start)`,
          ),
      },
    )
    : null;
  if (logger !== null) options.onExchange = (record) => logger.log(record);
  // Unexpected errors only: the client saw a bare 500. The detail stays here.
  const internalError = (detail: string) =>
    console.error(`filedrop: internal error: ${escapeLogValue(detail)}`);
  options.onError = (error) =>
    internalError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  const reportSwept = (removed: number) => {
    if (removed > 0) {
      console.error(`filedrop: removed ${removed} temp file(s) left by an earlier crash`);
    }
  };

  if (workers > 1 && Deno.build.os !== "linux") {
    console.error(`filedrop: --workers needs SO_REUSEPORT as Linux has it; serving with one`);
    workers = 1;
  }
  if (workers > 1 && options.tls !== undefined) {
    console.error("filedrop: --workers does not work with TLS yet; serving with one");
    workers = 1;
  }
  const reports: WorkerReports = {
    log: (line) => logger?.logLine(line),
    error: internalError,
    notice: (text) => console.error(`filedrop: ${escapeLogValue(text)}`),
    swept: reportSwept,
  };
  const format = logging ? reporting.log as Exclude<typeof reporting.log, "off"> : null;
  const server = await listen(
    options,
    portWasDefault,
    workers > 1
      ? async ({ onExchange: _log, onError: _error, onNotice: _notice, ...plain }) =>
        await serveWithWorkers(plain, workers, format, reports)
      : async (options) => {
        const single = await serve(options);
        single.staleTempsRemoved.then((removed) => reportSwept(removed.length));
        return { ...single, port: single.addr.port, finished: single.finished };
      },
  );
  console.log(
    `filedrop serving ${server.root} at ${server.url}` +
      (options.readOnly ? " (read-only)" : ""),
  );
  if (!reporting.quiet) console.log(describe(server, options, workers).join("\n"));

  const stop = async () => {
    await server.shutdown();
    await logger?.flush();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

/** `filedrop share`: prints a new link's URL on stdout (its id and expiry on stderr), or revokes one. */
async function runShare(command: Extract<Command, { kind: "share" }>): Promise<void> {
  let opened: Awaited<ReturnType<typeof openShareLinks>>;
  try {
    opened = await openShareLinks({
      root: command.root,
      s3: command.s3,
      shareSecret: command.secret ?? undefined,
    });
  } catch (error) {
    if (error instanceof S3ConfigError) fail(error.message);
    fail(`cannot open ROOT ${JSON.stringify(command.root)}: ${(error as Error).message}`);
  }
  const { links, storage, close } = opened;
  try {
    const action = command.action;
    if (action.kind === "revoke") {
      const fresh = await links.revoke(action.id);
      console.log(fresh ? `revoked link ${action.id}` : `link ${action.id} was already revoked`);
      return;
    }
    let path: string[];
    try {
      path = decodeUrlPath(action.path).segments;
    } catch (error) {
      fail(`not a valid PATH: ${error instanceof HttpError ? error.message : String(error)}`);
    }
    const link = {
      scope: action.scope,
      path,
      lifetimeMs: action.lifetimeMs,
      maxBytes: action.maxBytes,
    };
    const created = await links.create(link, await checkNewLink(storage, link));
    console.log(new URL(created.urlPath.slice(1), action.baseUrl).href);
    const what = action.scope === "upload" ? "drop link into" : "read link to";
    console.error(
      `filedrop: ${what} /${path.join("/")}, id ${created.grant.id}, until ` +
        `${new Date(created.grant.expiresAt).toISOString()}` +
        (action.maxBytes === null ? "" : `, at most ${action.maxBytes} bytes`) +
        `; revoke with: filedrop share --revoke ${created.grant.id}`,
    );
  } catch (error) {
    if (error instanceof ShareError) fail(error.message);
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
      fail(`cannot write ROOT's share state: ${error.message}`);
    }
    throw error;
  } finally {
    await close();
  }
}

async function start(args: string[]): Promise<void> {
  let command: Command;
  try {
    command = parseCommandLine(args, readableEnvironment());
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message} (see 'filedrop --help')`);
    throw error;
  }
  switch (command.kind) {
    case "help":
      return void console.log(HELP);
    case "version":
      return void console.log(`filedrop ${denoJson.version}`);
    case "completions":
      return void console.log(completionScript(command.shell));
    case "healthcheck": {
      const health = await checkHealth(command.url);
      if (!health.healthy) {
        // 1, not 2: a container's HEALTHCHECK reads 1 as unhealthy, and 2 is reserved there.
        console.error(`filedrop: unhealthy: ${health.detail}`);
        Deno.exit(1);
      }
      return void console.log(`healthy: ${health.detail}`);
    }
    case "hash-password": {
      const password = await readPassword();
      if (password === "") fail("hash-password reads the password on stdin; it was empty");
      return void console.log(await hashPassword(password));
    }
    case "share":
      return await runShare(command);
    case "serve":
      return await runServe(command);
  }
}

if (import.meta.main) await start(Deno.args);
