import assert from "node:assert/strict";
import { caddyfile, findExecutable, nginxConfig } from "./servers.ts";

const INPUT = {
  host: "127.0.0.1",
  port: 8123,
  root: "/tmp/root",
  workDir: "/tmp/work",
  dav: true,
  runAsRoot: true,
  connections: 50,
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
