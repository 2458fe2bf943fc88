/**
 * The `filedrop` command: serves a directory over HTTP until SIGINT or SIGTERM.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { HELP, parseCommandLine, UsageError } from "./lib/cli.ts";
import type { FileServer, ServeOptions } from "./lib/mod.ts";
import { serve } from "./lib/mod.ts";

function fail(message: string): never {
  console.error(`filedrop: ${message}`);
  Deno.exit(2);
}

/** Starts the server; every way that can fail ends the process with one line on stderr. */
async function listen(options: ServeOptions, portWasDefault: boolean): Promise<FileServer> {
  try {
    return await serve(options);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse && portWasDefault) {
      console.error(`filedrop: port ${options.port} is in use; picking a free port instead`);
      return await listen({ ...options, port: 0 }, false);
    }
    if (error instanceof Deno.errors.AddrInUse) fail(`port ${options.port} is already in use`);
    if (error instanceof Deno.errors.AddrNotAvailable) {
      fail(`cannot bind address ${options.hostname}`);
    }
    // A host name that does not resolve, a port needing privileges, ROOT vanishing meanwhile.
    const reason = error instanceof Error ? error.message : String(error);
    fail(`cannot serve on ${options.hostname} port ${options.port}: ${reason}`);
  }
}

async function start(args: string[]): Promise<void> {
  let command;
  try {
    command = parseCommandLine(args);
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message} (see 'filedrop --help')`);
    throw error;
  }
  if (command.kind === "help") return void console.log(HELP);
  if (command.kind === "version") return void console.log(`filedrop ${denoJson.version}`);

  const { options, portWasDefault } = command;
  let root: Deno.FileInfo;
  try {
    root = await Deno.stat(options.root);
  } catch {
    fail(`ROOT ${JSON.stringify(options.root)} does not exist or cannot be read`);
  }
  if (!root.isDirectory) fail(`ROOT ${JSON.stringify(options.root)} is not a directory`);

  const server = await listen(options, portWasDefault);
  console.log(
    `filedrop serving ${server.root} at ${server.url}` +
      (options.readOnly ? " (read-only)" : ""),
  );

  server.staleTempsRemoved.then((removed) => {
    if (removed.length > 0) {
      console.error(`filedrop: removed ${removed.length} temp file(s) left by an earlier crash`);
    }
  });

  const stop = async () => {
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

if (import.meta.main) await start(Deno.args);
