/**
 * The README's nginx recipe for a login proxy, for real: Debian's nginx in
 * front of filedrop with `auth_request` asking a tiny login service (served
 * by this test) who the client is, and passing the answer on in
 * `X-Forwarded-User`; filedrop believes that header from nginx's address
 * only (nginx connects from 127.0.0.2, the test's own requests come from
 * 127.0.0.1).
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { serve } from "../lib/mod.ts";

const NGINX = "/usr/sbin/nginx";
const nginxMissing = (() => {
  try {
    return !Deno.statSync(NGINX).isFile;
  } catch {
    return true;
  }
})();

/** The login service: a bearer token per user, as a session cookie would be. */
const TOKENS: Record<string, string> = { "token-of-bob": "bob", "token-of-admin": "admin" };

/** A port free right now on 127.0.0.1 (nginx cannot be asked for port 0 and tell us). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The recipe of the README, with the ports of this test. */
function nginxConfig(dir: string, listen: number, login: number, filedrop: number): string {
  return `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${listen};
    client_max_body_size 0;

    location = /_login_check {
      internal;
      proxy_pass http://127.0.0.1:${login}/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }

    location / {
      auth_request /_login_check;
      auth_request_set $login_user $upstream_http_x_user;
      proxy_set_header X-Forwarded-User $login_user;
      proxy_set_header Authorization "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_bind 127.0.0.2;
      proxy_pass http://127.0.0.1:${filedrop};
    }
  }
}
`;
}

Deno.test({
  name:
    "nginx auth_request in front of filedrop: the login service names the user, the rules apply",
  ignore: nginxMissing,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "filedrop-nginx-" });
    const root = path.join(dir, "root");
    await Deno.mkdir(path.join(root, "team"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "team", "plan.txt"), "the plan");
    const login = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      const token = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
      const user = token === undefined ? undefined : TOKENS[token];
      return user === undefined
        ? new Response(null, { status: 401 })
        : new Response(null, { status: 200, headers: { "X-User": user } });
    });
    const notices: string[] = [];
    const server = await serve({
      root,
      port: 0,
      hostname: "127.0.0.1",
      fsync: false,
      rules: ["admin@/:rwd", "bob@/team:rw"],
      authProxy: { header: "X-Forwarded-User", trustedProxies: ["127.0.0.2"] },
      onNotice: (message) => notices.push(message),
      onError: (error) => console.error(error),
    });
    const listen = freePort();
    const config = path.join(dir, "nginx.conf");
    await Deno.writeTextFile(config, nginxConfig(dir, listen, login.addr.port, server.addr.port));
    const nginx = new Deno.Command(NGINX, {
      args: ["-p", dir, "-c", config, "-e", `${dir}/error.log`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const base = `http://127.0.0.1:${listen}`;
    try {
      // Up when it answers (the login service's 401 without a token).
      const deadline = Date.now() + 10_000;
      while (true) {
        try {
          await (await fetch(`${base}/`)).body?.cancel();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const as = (token: string | null, extra: Record<string, string> = {}) => ({
        ...extra,
        ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
      });
      const status = async (method: string, url: string, headers: Record<string, string>) => {
        const response = await fetch(url, { method, headers, body: method === "PUT" ? "x" : null });
        await response.body?.cancel();
        return response.status;
      };
      // No login: nginx refuses before filedrop is asked.
      assert.equal(await status("GET", `${base}/team/plan.txt`, as(null)), 401);
      // bob through nginx: his rules.
      const plan = await fetch(`${base}/team/plan.txt`, { headers: as("token-of-bob") });
      assert.equal(await plan.text(), "the plan");
      assert.equal(await status("PUT", `${base}/team/notes.txt`, as("token-of-bob")), 201);
      assert.equal(await status("DELETE", `${base}/team/notes.txt`, as("token-of-bob")), 403);
      assert.equal(await status("PUT", `${base}/elsewhere.txt`, as("token-of-bob")), 403);
      // A forged header is overwritten by nginx: bob stays bob.
      const forged = as("token-of-bob", { "X-Forwarded-User": "admin" });
      assert.equal(await status("DELETE", `${base}/team/notes.txt`, forged), 403);
      assert.equal(await status("DELETE", `${base}/team/notes.txt`, as("token-of-admin")), 204);
      assert.deepEqual(notices, []);
      // Straight to filedrop, past nginx: the header is not believed, and that is said once.
      const direct = `http://127.0.0.1:${server.addr.port}`;
      for (let i = 0; i < 2; i++) {
        assert.equal(
          await status("PUT", `${direct}/team/forged.txt`, { "X-Forwarded-User": "admin" }),
          403,
        );
      }
      assert.equal(notices.length, 1);
      assert.match(notices[0], /x-forwarded-user header from 127\.0\.0\.1/);
    } finally {
      nginx.kill("SIGTERM");
      const exit = await nginx.output();
      await server.shutdown();
      await login.shutdown();
      const errors = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
      await Deno.remove(dir, { recursive: true });
      assert.ok(exit.success || exit.signal === "SIGTERM", `nginx: ${errors}`);
    }
  },
});
