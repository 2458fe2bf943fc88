/**
 * The servers the benchmark compares, and how to launch each one: our
 * server, the `Deno.serve` reference, nginx and Caddy. The configs of nginx
 * and Caddy are written at run time into a temporary directory.
 *
 * @module
 */

import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OursV8Flags } from "./options.ts";

/** Where and what a server is to serve. */
export interface ServerContext {
  /** Address to listen on. */
  host: string;
  /** Free port to listen on. */
  port: number;
  /** Directory to serve (and to PUT into). */
  root: string;
  /** Empty scratch directory for this server's config, temp files and logs. */
  workDir: string;
  /** wrk connections, so worker limits can be sized. */
  connections: number;
  /** Whether our server should fsync uploads. */
  fsync: boolean;
  /** Cores the server may use: workers (ours), worker processes (nginx), GOMAXPROCS (Caddy). */
  cores: number;
  /** V8 flags of our server. */
  oursV8Flags: OursV8Flags;
}

/** How to start a server process. */
export interface ServerLaunch {
  /** Executable, spawned directly (no shell) so its PID is the server's. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment variables. */
  env: Record<string, string>;
  /** Working directory. */
  cwd: string;
  /** A stdout line the server prints once it listens; null to rely on probing. */
  readyPattern: RegExp | null;
  /** Whether the server accepts PUT in this setup. */
  supportsPut: boolean;
  /** Version string for the report. */
  version: string;
}

/** A server the harness can benchmark. */
export interface ServerDefinition {
  /** Name used by `--only` and in the report. */
  name: string;
  /** One-line description for the report. */
  description: string;
  /**
   * Whether it can use more than one core. One that cannot runs
   * single-threaded in a `--cores N` session, and only when `--only` names it.
   */
  multiCore: boolean;
  /**
   * Prepares a launch (writing configs into `context.workDir`).
   * Returns a skip reason instead when the server is not installed (nginx
   * and Caddy; ours and the reference are in this repository).
   */
  prepare(context: ServerContext): Promise<ServerLaunch | { skipped: string }>;
}

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUR_MAIN = join(REPO_ROOT, "main.ts");
const REFERENCE_MAIN = fileURLToPath(new URL("./reference_serve.ts", import.meta.url));
const MINIMAL_MAIN = fileURLToPath(new URL("./minimal_serve.ts", import.meta.url));
/** The permissions of the documented start command, `deno task start`. */
const DENO_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];
/**
 * The V8 setting the release binary bakes in (`deno task compile`), a 4 MiB
 * young generation: both Deno servers run with it so that peak RSS is the
 * binary's (81-108 MiB for ours in the runs of 2026-11-28, bench/results/),
 * unless `--ours-v8-flags none` measures ours with the plain start command.
 */
const RELEASE_V8_FLAGS = ["--v8-flags=--max-semi-space-size=4"];

/**
 * Finds an executable on PATH or in the sbin directories (nginx lives in
 * /usr/sbin, which a non-root PATH may lack).
 *
 * @param name the executable's name
 * @returns its absolute path, or null when absent
 */
export function findExecutable(name: string): string | null {
  const path = Deno.env.get("PATH") ?? "";
  const directories = [...path.split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const directory of directories) {
    if (directory === "") continue;
    const candidate = join(directory, name);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/**
 * Runs a command briefly and returns its stdout and stderr together (nginx
 * prints its version on stderr, wrk prints it in its usage text).
 *
 * @param command executable path
 * @param args arguments
 * @returns the combined output, empty when the command cannot run
 */
export async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdin: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    const decoder = new TextDecoder();
    return decoder.decode(output.stdout) + decoder.decode(output.stderr);
  } catch {
    return "";
  }
}

function readyLineFor(context: ServerContext): RegExp {
  const host = context.host.replaceAll(".", "\\.");
  return new RegExp(`http://${host}:${context.port}/`);
}

/** Our server, as its command-line contract describes. */
const OURS: ServerDefinition = {
  name: "ours",
  description: "this project's server (main.ts)",
  // main.ts is part of this repository, so it is never skipped: were it
  // missing, the run would list ours as "failed to start" with Deno's error.
  multiCore: true,
  prepare(context) {
    const v8Flags = context.oursV8Flags === "semi4" ? RELEASE_V8_FLAGS : [];
    const workers = context.cores > 1 ? ["--workers", String(context.cores)] : [];
    return Promise.resolve({
      command: Deno.execPath(),
      args: [
        "run",
        ...DENO_PERMISSIONS,
        ...v8Flags,
        OUR_MAIN,
        "--host",
        context.host,
        "--port",
        String(context.port),
        ...workers,
        ...(context.fsync ? [] : ["--no-fsync"]),
        // No access log, like nginx here (access_log off) and Caddy (none by default).
        "--log",
        "off",
        context.root,
      ],
      env: {},
      cwd: REPO_ROOT,
      readyPattern: readyLineFor(context),
      supportsPut: true,
      version: [
        `deno ${Deno.version.deno}`,
        context.fsync ? "fsync on" : "--no-fsync",
        "--log off",
        ...workers.length > 0 ? [workers.join(" ")] : [],
        v8Flags.length > 0 ? v8Flags.join(" ") : "no V8 flags",
      ].join(", "),
    });
  },
};

/**
 * How to launch a one-file Deno server of bench/ that takes our command
 * line (`--host H --port P ROOT`) and serves on the main thread.
 */
function denoScriptLaunch(
  script: string,
  v8Flags: readonly string[],
  context: ServerContext,
  version: string,
): ServerLaunch {
  return {
    command: Deno.execPath(),
    args: [
      "run",
      ...DENO_PERMISSIONS,
      ...v8Flags,
      script,
      "--host",
      context.host,
      "--port",
      String(context.port),
      context.root,
    ],
    env: {},
    cwd: REPO_ROOT,
    readyPattern: readyLineFor(context),
    supportsPut: true,
    version:
      `deno ${Deno.version.deno}, ${v8Flags.length > 0 ? v8Flags.join(" ") : "no V8 flags"}` +
      version,
  };
}

/** The plain `Deno.serve` file handler in bench/reference_serve.ts. */
const REFERENCE: ServerDefinition = {
  name: "ref",
  description: "Deno.serve static handler (bench/reference_serve.ts)",
  // One Deno.serve on the main thread: it has no workers to spread over cores.
  multiCore: false,
  prepare(context) {
    const note = context.cores > 1 ? ", single-threaded (Deno.serve has no multi-core mode)" : "";
    return Promise.resolve(denoScriptLaunch(REFERENCE_MAIN, RELEASE_V8_FLAGS, context, note));
  },
};

/**
 * The minimal server in bench/minimal_serve.ts: one read, one stat, one
 * write per request on `Deno.listen`, what Deno itself costs a file server.
 */
const MINIMAL: ServerDefinition = {
  name: "minimal",
  description: "a minimal Deno.listen file server: read, stat, write (bench/minimal_serve.ts)",
  // One connection loop on the main thread, like the reference.
  multiCore: false,
  prepare(context) {
    // Beside ours, so under ours' V8 flags (with none, its peak RSS is a plain command's too).
    const v8Flags = context.oursV8Flags === "semi4" ? RELEASE_V8_FLAGS : [];
    return Promise.resolve(denoScriptLaunch(MINIMAL_MAIN, v8Flags, context, ""));
  },
};

/** Settings for {@link nginxConfig}. */
export interface NginxConfigInput {
  /** Listen address. */
  host: string;
  /** Listen port. */
  port: number;
  /** Served directory. */
  root: string;
  /** Scratch directory for pid file and body temp files. */
  workDir: string;
  /** Enable `dav_methods PUT` (needs the http_dav module). */
  dav: boolean;
  /** Run the worker as root (only valid when the master runs as root). */
  runAsRoot: boolean;
  /** Concurrent client connections expected. */
  connections: number;
  /** Worker processes, one per core the server may use. */
  workers: number;
}

/**
 * Writes an nginx config tuned like a sensible production static server:
 * one worker process per core, sendfile, no access log, no keep-alive
 * request limit. With several workers each gets its own listening socket
 * (`reuseport`), as our server's workers do.
 *
 * @param input where to listen and what to serve
 * @returns the config text
 */
export function nginxConfig(input: NginxConfigInput): string {
  const temp = (name: string) => join(input.workDir, name);
  const dav = input.dav
    ? `
      dav_methods PUT;
      dav_access user:rw group:r all:r;
      create_full_put_path on;`
    : "";
  return `# Generated by bench/servers.ts for one benchmark session.
${input.runAsRoot ? "user root root;\n" : ""}worker_processes ${input.workers};
daemon off;
master_process on;
pid ${temp("nginx.pid")};
error_log ${temp("error.log")} warn;

events {
  worker_connections ${Math.max(1024, input.connections * 2 + 64)};
}

http {
  types {
    text/html html;
    application/octet-stream bin;
  }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_max_body_size 64m;
  client_body_temp_path ${temp("client_body")};
  proxy_temp_path ${temp("proxy")};
  fastcgi_temp_path ${temp("fastcgi")};
  uwsgi_temp_path ${temp("uwsgi")};
  scgi_temp_path ${temp("scgi")};

  server {
    listen ${input.host}:${input.port}${input.workers > 1 ? " reuseport" : ""};
    root ${input.root};
    location / {${dav}
    }
  }
}
`;
}

/** nginx, from Debian's nginx-light or nginx package. */
const NGINX: ServerDefinition = {
  name: "nginx",
  description: "nginx, one worker process per core, sendfile on, access_log off",
  multiCore: true,
  async prepare(context) {
    const nginx = findExecutable("nginx");
    if (nginx === null) {
      return { skipped: "nginx is not installed (apt-get install -y nginx-light)" };
    }
    const buildInfo = await commandOutput(nginx, ["-V"]);
    const dav = buildInfo.includes("--with-http_dav_module");
    const config = join(context.workDir, "nginx.conf");
    await Deno.writeTextFile(
      config,
      nginxConfig({
        host: context.host,
        port: context.port,
        root: context.root,
        workDir: context.workDir,
        dav,
        runAsRoot: Deno.uid() === 0,
        connections: context.connections,
        workers: context.cores,
      }),
    );
    const version = buildInfo.match(/nginx version: (\S+)/)?.[1] ?? "nginx";
    return {
      command: nginx,
      args: ["-p", context.workDir, "-c", config, "-e", join(context.workDir, "error.log")],
      env: {},
      cwd: context.workDir,
      readyPattern: null,
      supportsPut: dav,
      version: `${version}, worker_processes ${context.cores}` +
        (dav ? "" : " (no dav module: PUT skipped)"),
    };
  },
};

/**
 * Writes a Caddyfile for a plain `file_server` on one address.
 *
 * @param input where to listen and what to serve
 * @returns the Caddyfile text
 */
export function caddyfile(input: { host: string; port: number; root: string }): string {
  return `# Generated by bench/servers.ts for one benchmark session.
{
	admin off
	auto_https off
}

http://${input.host}:${input.port} {
	bind ${input.host}
	root * ${input.root}
	file_server
}
`;
}

/** Caddy's file_server, from Debian's caddy package. */
const CADDY: ServerDefinition = {
  name: "caddy",
  description: "Caddy file_server, GOMAXPROCS = cores (no PUT)",
  multiCore: true,
  async prepare(context) {
    const caddy = findExecutable("caddy");
    if (caddy === null) return { skipped: "caddy is not installed (apt-get install -y caddy)" };
    const config = join(context.workDir, "Caddyfile");
    await Deno.writeTextFile(config, caddyfile(context));
    const version = (await commandOutput(caddy, ["version"])).trim().split(/\s+/)[0];
    return {
      command: caddy,
      args: ["run", "--config", config, "--adapter", "caddyfile"],
      // Caddy keeps state under HOME/XDG dirs: point them at the scratch dir.
      env: {
        GOMAXPROCS: String(context.cores),
        HOME: context.workDir,
        XDG_DATA_HOME: join(context.workDir, "data"),
        XDG_CONFIG_HOME: join(context.workDir, "config"),
      },
      cwd: context.workDir,
      readyPattern: null,
      supportsPut: false,
      version: `caddy ${version || "unknown"}, GOMAXPROCS=${context.cores}`,
    };
  },
};

/** All servers, in the order they are interleaved (ours first). */
export const SERVERS: readonly ServerDefinition[] = [OURS, REFERENCE, MINIMAL, NGINX, CADDY];

/** Names of all servers. */
export const SERVER_NAMES: readonly string[] = SERVERS.map((server) => server.name);
