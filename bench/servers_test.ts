import assert from "node:assert/strict";
import { join } from "node:path";
import {
  caddyfile,
  findExecutable,
  nginxConfig,
  type ServerContext,
  type ServerLaunch,
  SERVERS,
} from "./servers.ts";

const INPUT = {
  host: "127.0.0.1",
  port: 8123,
  root: "/tmp/root",
  workDir: "/tmp/work",
  dav: true,
  runAsRoot: true,
  connections: 50,
  workers: 1,
};

Deno.test("nginxConfig: one worker, sendfile, no access log, private temp paths", () => {
  const config = nginxConfig(INPUT);
  for (
    const directive of [
      "user root root;",
      "worker_processes 1;",
      "daemon off;",
      "pid /tmp/work/nginx.pid;",
      "sendfile on;",
      "access_log off;",
      "keepalive_requests 1000000;",
      "client_body_temp_path /tmp/work/client_body;",
      "listen 127.0.0.1:8123;",
      "root /tmp/root;",
      "dav_methods PUT;",
      "worker_connections 1024;",
    ]
  ) {
    assert.ok(config.includes(directive), directive);
  }
  assert.ok(!config.includes("reuseport"));
});

Deno.test("nginxConfig: --cores 2 gives two worker processes, each with its own socket", () => {
  const config = nginxConfig({ ...INPUT, workers: 2 });
  assert.match(config, /^worker_processes 2;$/m);
  assert.match(config, /^\s*listen 127\.0\.0\.1:8123 reuseport;$/m);
  assert.doesNotMatch(config, /worker_processes 1;/);
});

Deno.test("nginxConfig: without dav or root, and sized for many connections", () => {
  const config = nginxConfig({ ...INPUT, dav: false, runAsRoot: false, connections: 1000 });
  assert.ok(!config.includes("dav_methods"));
  assert.ok(!config.includes("user "));
  assert.ok(config.includes("worker_connections 2064;"));
});

Deno.test("caddyfile: plain file_server bound to the address, admin off", () => {
  const text = caddyfile({ host: "127.0.0.1", port: 8124, root: "/tmp/root" });
  assert.match(text, /admin off/);
  assert.match(text, /^http:\/\/127\.0\.0\.1:8124 \{$/m);
  assert.match(text, /bind 127\.0\.0\.1/);
  assert.match(text, /root \* \/tmp\/root/);
  assert.match(text, /file_server/);
});

Deno.test("findExecutable: finds sh, not a made-up name", () => {
  assert.match(findExecutable("sh") ?? "", /\/sh$/);
  assert.equal(findExecutable("no-such-program-4711"), null);
});

function context(workDir: string, change: Partial<ServerContext> = {}): ServerContext {
  return {
    host: "127.0.0.1",
    port: 8125,
    root: "/tmp/root",
    workDir,
    connections: 50,
    fsync: false,
    cores: 1,
    oursV8Flags: "semi4",
    ...change,
  };
}

async function launchOf(name: string, serverContext: ServerContext): Promise<ServerLaunch> {
  const server = SERVERS.find((candidate) => candidate.name === name);
  if (server === undefined) throw new Error(`no server ${name}`);
  const launch = await server.prepare(serverContext);
  if ("skipped" in launch) throw new Error(`${name} skipped: ${launch.skipped}`);
  return launch;
}

Deno.test("ours: by default one worker and the release binary's V8 flag", async () => {
  const launch = await launchOf("ours", context("/tmp/work"));
  assert.equal(launch.command, Deno.execPath());
  assert.deepEqual(launch.args.slice(0, 5), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--v8-flags=--max-semi-space-size=4",
  ]);
  assert.match(launch.args[5], /\/main\.ts$/);
  assert.deepEqual(launch.args.slice(6), [
    "--host",
    "127.0.0.1",
    "--port",
    "8125",
    "--no-fsync",
    "--log",
    "off",
    "/tmp/root",
  ]);
  assert.match(launch.version, /--no-fsync, --log off, --v8-flags=--max-semi-space-size=4$/);
});

Deno.test("ours: --cores 2 --ours-v8-flags none is the plain start command with --workers 2", async () => {
  const launch = await launchOf(
    "ours",
    context("/tmp/work", { cores: 2, oursV8Flags: "none", fsync: true }),
  );
  assert.deepEqual(launch.args.slice(0, 4), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
  ]);
  assert.match(launch.args[4], /\/main\.ts$/);
  assert.deepEqual(launch.args.slice(5), [
    "--host",
    "127.0.0.1",
    "--port",
    "8125",
    "--workers",
    "2",
    "--log",
    "off",
    "/tmp/root",
  ]);
  assert.ok(!launch.args.some((arg) => arg.startsWith("--v8-flags")));
  assert.match(launch.version, /fsync on, --log off, --workers 2, no V8 flags$/);
});

Deno.test("ref: single-threaded in every mode, and says so with --cores 2", async () => {
  const server = SERVERS.find((candidate) => candidate.name === "ref");
  assert.equal(server?.multiCore, false);
  const one = await launchOf("ref", context("/tmp/work"));
  const two = await launchOf("ref", context("/tmp/work", { cores: 2, oursV8Flags: "none" }));
  assert.deepEqual(two.args, one.args);
  assert.ok(two.args.includes("--v8-flags=--max-semi-space-size=4"));
  assert.match(two.version, /single-threaded/);
  assert.doesNotMatch(one.version, /single-threaded/);
});

Deno.test({
  name: "nginx and caddy: --cores 2 writes worker_processes 2 and sets GOMAXPROCS=2",
  ignore: findExecutable("nginx") === null || findExecutable("caddy") === null,
  fn: async () => {
    const workDir = await Deno.makeTempDir({ prefix: "bench-servers-test-" });
    try {
      await Deno.mkdir(join(workDir, "nginx"));
      await Deno.mkdir(join(workDir, "caddy"));
      const nginx = await launchOf("nginx", context(join(workDir, "nginx"), { cores: 2 }));
      const config = await Deno.readTextFile(join(workDir, "nginx", "nginx.conf"));
      assert.ok(nginx.args.includes(join(workDir, "nginx", "nginx.conf")));
      assert.match(config, /^worker_processes 2;$/m);
      assert.match(nginx.version, /worker_processes 2/);
      const caddy = await launchOf("caddy", context(join(workDir, "caddy"), { cores: 2 }));
      assert.equal(caddy.env.GOMAXPROCS, "2");
      assert.match(caddy.version, /GOMAXPROCS=2$/);
      const single = await launchOf("caddy", context(join(workDir, "caddy")));
      assert.equal(single.env.GOMAXPROCS, "1");
    } finally {
      await Deno.remove(workDir, { recursive: true });
    }
  },
});
