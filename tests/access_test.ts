/**
 * Access rules end to end (lib/policy/access.ts through the router): a real
 * server with users and rules, every method (HTTP and WebDAV) by every kind of
 * principal on every area of a tree, over real sockets; the expectations are a
 * table of permissions written by hand from the rules, and each refused write
 * is checked to have changed nothing.
 */

import assert from "node:assert/strict";
import { InsecureConfigurationError, serve } from "../lib/mod.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";
import { INTEROP_VERSION } from "../lib/handlers/resumable.ts";
import { AccessPolicy } from "../lib/policy/access.ts";
import { cidrContains, parseCidr } from "../lib/policy/ip_address.ts";
import type { Principal } from "../lib/policy/access.ts";
import { parseRule, RuleSyntaxError } from "../lib/policy/rule_syntax.ts";
import { exchange, parseResponses } from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testServeOptions } from "./_s3.ts";

const USERS = ["admin:a-pass", "bob:b-pass", "carol:c-pass"];
const RULES = [
  "admin@/:rwd",
  "@/public",
  "@/public/hidden:-",
  "bob@/team:rw",
  "*@/inbox:w",
  "carol@/shared:rwd",
  "carol@/shared/locked:r",
  "carol@/shared/forms/readme.txt:r",
];

/** Who sends the requests: a name and its Authorization header (none for anonymous). */
const PRINCIPALS = {
  anonymous: null,
  "wrong password": basic("bob", "not-bob's"),
  bob: basic("bob", "b-pass"),
  carol: basic("carol", "c-pass"),
  admin: basic("admin", "a-pass"),
} as const;
type Who = keyof typeof PRINCIPALS;

/**
 * THE ORACLE: what each principal may do in each area, read off the rules by
 * hand. An area is a folder; `root` stands for files directly in `/`.
 */
const MAY: Record<string, Record<Who, string>> = {
  root: { anonymous: "", "wrong password": "", bob: "", carol: "", admin: "rwd" },
  public: { anonymous: "r", "wrong password": "r", bob: "r", carol: "r", admin: "rwd" },
  "public/hidden": { anonymous: "", "wrong password": "", bob: "", carol: "", admin: "rwd" },
  team: { anonymous: "", "wrong password": "", bob: "rw", carol: "", admin: "rwd" },
  teamx: { anonymous: "", "wrong password": "", bob: "", carol: "", admin: "rwd" },
  inbox: { anonymous: "", "wrong password": "", bob: "w", carol: "w", admin: "rwd" },
  shared: { anonymous: "", "wrong password": "", bob: "", carol: "rwd", admin: "rwd" },
  "shared/locked": { anonymous: "", "wrong password": "", bob: "", carol: "r", admin: "rwd" },
};

function basic(user: string, password: string): string {
  return `Authorization: Basic ${btoa(`${user}:${password}`)}`;
}

const ADMIN = PRINCIPALS.admin;
const LOCK_TYPE = "Content-Type: application/xml";
const LOCK_INFO = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>' +
  "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
const BOUNDARY = "----access-test-boundary";

/** The folder of an area ("" for root), as a URL prefix ending in "/". */
function folder(area: string): string {
  return area === "root" ? "/" : `/${area}/`;
}

/** A request a case sends, given a unique name to work on in the area's folder. */
interface MethodCase {
  /** The letters it needs in the area. */
  needs: string;
  /** Seeds what it works on (as admin), if anything. */
  seed?: (dir: string, name: string) => Promise<void>;
  send: (dir: string, name: string, auth: string[]) => Promise<RawResponse>;
  /** The status when allowed, if not a success (2xx, 3xx). */
  allowedStatus?: number;
  /** After a refusal: the paths that must (true) or must not (false) exist. */
  unchanged?: (dir: string, name: string) => [string, boolean][];
}

const METHODS: Record<string, MethodCase> = {
  GET: { needs: "r", send: (dir, _, auth) => send("GET", `${dir}f.txt`, auth) },
  HEAD: { needs: "r", send: (dir, _, auth) => send("HEAD", `${dir}f.txt`, auth) },
  PROPFIND: {
    needs: "r",
    send: (dir, _, auth) => send("PROPFIND", `${dir}f.txt`, [...auth, "Depth: 0"]),
  },
  "GET listing": { needs: "r", send: (dir, _, auth) => send("GET", dir, auth) },
  "GET archive": { needs: "r", send: (dir, _, auth) => send("GET", `${dir}?archive=tar`, auth) },
  PUT: {
    needs: "w",
    send: (dir, name, auth) => send("PUT", `${dir}${name}`, auth, "new"),
    unchanged: (dir, name) => [[`${dir}${name}`, false]],
  },
  "PUT folder": {
    needs: "w",
    send: (dir, name, auth) => send("PUT", `${dir}${name}/`, auth),
    unchanged: (dir, name) => [[`${dir}${name}/`, false]],
  },
  "PUT resumable": {
    needs: "w",
    send: (dir, name, auth) =>
      send("PUT", `${dir}${name}`, [
        ...auth,
        "Upload-Complete: ?1",
        `Upload-Draft-Interop-Version: ${INTEROP_VERSION}`,
      ], "resumed"),
    unchanged: (dir, name) => [[`${dir}${name}`, false]],
  },
  "POST form": {
    needs: "w",
    send: (dir, name, auth) =>
      send(
        "POST",
        dir,
        [...auth, `Content-Type: multipart/form-data; boundary=${BOUNDARY}`],
        [
          `--${BOUNDARY}`,
          `Content-Disposition: form-data; name="file"; filename="${name}"`,
          "",
          "posted",
          `--${BOUNDARY}--`,
          "",
        ].join("\r\n"),
      ),
    unchanged: (dir, name) => [[`${dir}${name}`, false]],
  },
  MKCOL: {
    needs: "w",
    send: (dir, name, auth) => send("MKCOL", `${dir}${name}`, auth),
    unchanged: (dir, name) => [[`${dir}${name}/`, false]],
  },
  PROPPATCH: {
    needs: "w",
    send: (dir, _, auth) =>
      send(
        "PROPPATCH",
        `${dir}f.txt`,
        [...auth, "Content-Type: application/xml"],
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>' +
          "<Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>",
      ),
  },
  LOCK: {
    needs: "w",
    send: (dir, name, auth) =>
      send("LOCK", `${dir}${name}`, [...auth, LOCK_TYPE, "Timeout: Second-60"], LOCK_INFO),
    unchanged: (dir, name) => [[`${dir}${name}`, false]],
  },
  UNLOCK: {
    needs: "w",
    // Allowed, it gets as far as finding no such lock (RFC 4918 §9.11.1).
    allowedStatus: 409,
    send: (dir, _, auth) =>
      send("UNLOCK", `${dir}f.txt`, [...auth, "Lock-Token: <urn:uuid:no-such-lock>"]),
  },
  DELETE: {
    needs: "d",
    seed: (dir, name) => put(`${dir}${name}`),
    send: (dir, name, auth) => send("DELETE", `${dir}${name}`, auth),
    unchanged: (dir, name) => [[`${dir}${name}`, true]],
  },
  MOVE: {
    needs: "rwd",
    seed: (dir, name) => put(`${dir}${name}`),
    send: (dir, name, auth) =>
      send("MOVE", `${dir}${name}`, [...auth, `Destination: ${dir}${name}-moved`]),
    unchanged: (dir, name) => [[`${dir}${name}`, true], [`${dir}${name}-moved`, false]],
  },
  COPY: {
    needs: "rw",
    send: (dir, name, auth) => send("COPY", `${dir}f.txt`, [...auth, `Destination: ${dir}${name}`]),
    unchanged: (dir, name) => [[`${dir}${name}`, false]],
  },
};

let port = 0;

/**
 * Sends one request on a fresh connection (`Connection: close`) and returns
 * its final response, after any interim one (a resumable upload's 104).
 */
async function send(
  method: string,
  target: string,
  headers: string[],
  body = "",
): Promise<RawResponse> {
  const length = body === "" && (method === "GET" || method === "HEAD") ? [] : [
    `Content-Length: ${new TextEncoder().encode(body).length}`,
  ];
  const head = [`${method} ${target} HTTP/1.1`, "Host: localhost", "Connection: close"];
  const { text } = await exchange(
    port,
    `${[...head, ...headers, ...length].join("\r\n")}\r\n\r\n${body}`,
    { responses: 2 },
  );
  const responses = parseResponses(text, [method === "HEAD", method === "HEAD"]).responses
    .filter((response) => response.status >= 200);
  assert.equal(responses.length, 1, `one final response to ${method} ${target}: ${text}`);
  return responses[0];
}

/** Creates a file (or, for a path ending in "/", a folder) as admin. */
async function put(target: string, body = "seed"): Promise<void> {
  const response = await send("PUT", target, [ADMIN], target.endsWith("/") ? "" : body);
  assert.ok(response.status === 201 || response.status === 204, `seeding ${target}`);
}

/** Whether a path exists, as admin sees it. */
async function exists(target: string): Promise<boolean> {
  const status = (await send("HEAD", target, [ADMIN])).status;
  assert.ok(status === 200 || status === 404 || status === 301, `HEAD ${target}: ${status}`);
  return status !== 404;
}

async function seedTree(): Promise<void> {
  for (const area of Object.keys(MAY)) {
    if (area !== "root") await put(folder(area));
    await put(`${folder(area)}f.txt`, `the file of ${area}`);
  }
}

/** Checks one response against the oracle; `allowed` says what it should have been. */
function judge(
  response: RawResponse,
  who: Who,
  allowed: boolean,
  label: string,
  allowedStatus?: number,
): void {
  if (allowed && allowedStatus !== undefined) {
    assert.equal(response.status, allowedStatus, `${label}: allowed`);
    return;
  }
  if (allowed) {
    assert.ok(response.status < 400, `${label}: allowed, got ${response.status}`);
    return;
  }
  // Anonymous (or refused credentials) while signing in could help: admin may do anything.
  const expected = PRINCIPALS[who] === null || who === "wrong password" ? 401 : 403;
  if (who === "wrong password" && response.status === 429) {
    // Its guesses used up the client's allowance of password checks (lib/policy/auth_throttle.ts).
    assert.match(response.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/, label);
    return;
  }
  assert.equal(response.status, expected, `${label}: refused`);
  if (expected === 401) {
    assert.equal(
      response.headers.get("www-authenticate"),
      'Basic realm="filedrop", charset="UTF-8"',
    );
  }
}

async function runTable(): Promise<number> {
  await seedTree();
  let cases = 0;
  for (const [area, may] of Object.entries(MAY)) {
    const dir = folder(area);
    for (const [methodName, method] of Object.entries(METHODS)) {
      for (const who of Object.keys(PRINCIPALS) as Who[]) {
        const name = `${methodName.replace(" ", "-")}-${who.replace(" ", "-")}`;
        const auth = PRINCIPALS[who] === null ? [] : [PRINCIPALS[who]!];
        await method.seed?.(dir, name);
        const allowed = [...method.needs].every((letter) => may[who].includes(letter));
        const label = `${who} ${methodName} in ${dir}`;
        judge(await method.send(dir, name, auth), who, allowed, label, method.allowedStatus);
        if (!allowed) {
          for (const [path, shouldExist] of method.unchanged?.(dir, name) ?? []) {
            assert.equal(await exists(path), shouldExist, `${label}: nothing changed (${path})`);
          }
        }
        cases++;
      }
    }
  }
  return cases;
}

/** Cases where two areas meet (MOVE and COPY), trees with rules below, and a resumable upload. */
async function runCrossings(): Promise<void> {
  const cases: [Who, string, string, string[], boolean][] = [
    // who, method, path, headers, allowed
    ["bob", "COPY", "/public/f.txt", ["Destination: /team/from-public"], true],
    ["carol", "COPY", "/public/f.txt", ["Destination: /team/from-public-2"], false],
    ["bob", "COPY", "/team/f.txt", ["Destination: /public/from-team"], false],
    ["anonymous", "COPY", "/public/f.txt", ["Destination: /team/x"], false],
    ["carol", "MOVE", "/shared/to-inbox", ["Destination: /inbox/from-shared"], true],
    ["bob", "MOVE", "/inbox/f.txt", ["Destination: /team/from-inbox"], false],
    // A tree with a rule below that takes the action away.
    ["carol", "DELETE", "/shared/", [], false],
    ["carol", "MOVE", "/shared/", ["Destination: /inbox/shared"], false],
    ["carol", "COPY", "/shared/", ["Destination: /inbox/shared-copy"], true],
    ["carol", "DELETE", "/shared/sub/", [], true],
    // A copy over a tree where a rule below refuses the write.
    ["carol", "COPY", "/shared/f.txt", ["Destination: /shared/locked"], false],
    // Replacing a folder takes its tree away: a delete, which writing alone does not grant.
    ["bob", "COPY", "/team/f.txt", ["Destination: /team/folder"], false],
    ["carol", "MOVE", "/shared/f.txt", ["Destination: /inbox/folder"], false],
    // Replacing a file is what a PUT does: writing is enough.
    ["bob", "COPY", "/team/f.txt", ["Destination: /team/replaced.txt"], true],
    // A lock of a tree (LOCK's default depth) bars others' writes in all of it.
    ["carol", "LOCK", "/shared/", [LOCK_TYPE, "Timeout: Second-60"], false],
  ];
  await put("/shared/to-inbox");
  await put("/shared/sub/");
  await put("/shared/sub/f.txt");
  for (const folder of ["/team/folder/", "/inbox/folder/"]) {
    await put(folder);
    await put(`${folder}f.txt`);
  }
  await put("/team/replaced.txt");
  for (const [who, method, path, headers, allowed] of cases) {
    const auth = PRINCIPALS[who] === null ? [] : [PRINCIPALS[who]!];
    const body = method === "LOCK" ? LOCK_INFO : "";
    const response = await send(method, path, [...auth, ...headers], body);
    judge(response, who, allowed, `${who} ${method} ${path} ${headers.join(" ")}`);
  }
  assert.equal(await exists("/team/folder/f.txt"), true, "the refused COPY left the folder");
  assert.equal(await exists("/inbox/folder/f.txt"), true, "the refused MOVE left the folder");
  assert.equal((await send("PUT", "/shared/locked/by-admin", [ADMIN], "x")).status, 201);
  // A form may write its folder, and still not a file there that a rule keeps from it.
  await put("/shared/forms/");
  const form = (name: string) =>
    METHODS["POST form"].send("/shared/forms/", name, [PRINCIPALS.carol]);
  judge(await form("readme.txt"), "carol", false, "carol POST form of readme.txt");
  assert.equal(await exists("/shared/forms/readme.txt"), false);
  judge(await form("other.txt"), "carol", true, "carol POST form of other.txt");
  assert.equal(await exists("/shared/forms/other.txt"), true);
  assert.equal(await exists("/shared/to-inbox"), false);
  assert.equal(await exists("/inbox/from-shared"), true);
  assert.equal(await exists("/shared/locked/f.txt"), true, "the refused DELETE left the tree");

  // A resumable upload is used under its target's rules, whoever knows its URL.
  const { text } = await exchange(
    port,
    "PUT /team/partial.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
      `${PRINCIPALS.bob}\r\nUpload-Complete: ?0\r\n` +
      `Upload-Draft-Interop-Version: ${INTEROP_VERSION}\r\nContent-Length: 10\r\n\r\nfirst half`,
    { responses: 2 },
  );
  const [interim, created] = parseResponses(text).responses;
  assert.deepEqual([interim.status, created.status], [104, 201]);
  const location = created.headers.get("location")!;
  assert.match(location, /\/\.well-known\//);
  const resource = new URL(location, "http://localhost").pathname;
  assert.equal((await send("HEAD", resource, [PRINCIPALS.carol])).status, 403);
  assert.equal((await send("HEAD", resource, [])).status, 401);
  const append = (auth: string[]) =>
    send("PATCH", resource, [
      ...auth,
      "Content-Type: application/partial-upload",
      "Upload-Offset: 10",
      "Upload-Complete: ?1",
    ], " and more");
  assert.equal((await append([PRINCIPALS.carol])).status, 403);
  assert.equal((await send("HEAD", resource, [PRINCIPALS.bob])).status, 204);
  assert.equal((await append([PRINCIPALS.bob])).status, 201);
  assert.equal((await send("GET", "/team/partial.bin", [ADMIN])).body, "first half and more");
}

/** Listings (HTML, JSON, PROPFIND Depth 1) hold only what the requester may read. */
async function runListings(): Promise<void> {
  const names = async (auth: string[], how: "json" | "html" | "propfind") => {
    if (how === "propfind") {
      const response = await send("PROPFIND", "/public/", [...auth, "Depth: 1"]);
      assert.equal(response.status, 207);
      return [...response.body.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((match) => match[1]);
    }
    const response = await send("GET", `/public/?format=${how}`, auth);
    assert.equal(response.status, 200);
    return how === "json"
      ? (JSON.parse(response.body).entries as { name: string }[]).map((entry) => entry.name)
      : [...response.body.matchAll(/data-name="([^"]*)"/g)].map((match) => match[1]);
  };
  for (const how of ["json", "html", "propfind"] as const) {
    const anonymous = await names([], how);
    const admin = await names([ADMIN], how);
    assert.ok(!anonymous.some((name) => name.includes("hidden")), `${how}: ${anonymous}`);
    assert.ok(admin.some((name) => name.includes("hidden")), `${how}: ${admin}`);
    assert.ok(anonymous.some((name) => name.includes("f.txt")), `${how}: ${anonymous}`);
  }
  // The page's controls: what the requester may do here, or could once signed in.
  const page = async (auth: string[], dir: string) => {
    const body = (await send("GET", dir, [...auth, "Accept: text/html"])).body;
    return /<body data-writable="(\w+)" data-deletable="(\w+)"/.exec(body)!.slice(1).join(" ");
  };
  assert.equal(await page([PRINCIPALS.carol], "/public/"), "false false");
  assert.equal(await page([PRINCIPALS.bob], "/team/"), "true false");
  assert.equal(await page([ADMIN], "/team/"), "true true");
  assert.equal(await page([], "/public/"), "true true", "anonymous: the admin could");
}

/** Unreadable paths look the same whether or not something is there. */
async function runExistence(): Promise<void> {
  for (const [who, area] of [["anonymous", "team"], ["bob", "teamx"], ["carol", "team"]]) {
    const auth = PRINCIPALS[who as Who] === null ? [] : [PRINCIPALS[who as Who]!];
    for (const method of ["GET", "HEAD", "PROPFIND", "OPTIONS", "DELETE", "PUT"]) {
      const there = await send(method, `${folder(area)}f.txt`, [...auth, "Depth: 0"]);
      const missing = await send(method, `${folder(area)}missing.txt`, [...auth, "Depth: 0"]);
      const label = `${who} ${method} in ${area}`;
      assert.equal(there.status, missing.status, label);
      assert.equal(there.body, missing.body, label);
      assert.equal(there.headers.get("allow"), missing.headers.get("allow"), label);
      assert.equal(there.headers.get("etag"), undefined, label);
    }
  }
}

async function withRules(
  base: ServeOptions,
  fn: (server: FileServer) => Promise<void>,
): Promise<void> {
  const server = await serve({ ...base, auth: USERS, rules: RULES });
  port = server.addr.port;
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

Deno.test("access rules x methods x principals over HTTP and WebDAV (file system)", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-access-" });
  try {
    await withRules(
      { root, port: 0, hostname: "127.0.0.1", fsync: false, onError: (e) => console.error(e) },
      async () => {
        const cases = await runTable();
        assert.equal(cases, Object.keys(MAY).length * Object.keys(METHODS).length * 5);
        await runCrossings();
        await runListings();
        await runExistence();
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "access rules x methods x principals over HTTP and WebDAV (S3)",
  ignore: s3Ignored,
  fn: async () => {
    const prefix = testPrefix("access-table");
    try {
      await withRules(testServeOptions(prefix), async () => {
        await runTable();
        await runCrossings();
        await runListings();
        await runExistence();
      });
    } finally {
      await removePrefix(testClient(), prefix);
    }
  },
});

Deno.test("a symlink inside ROOT gives no more than the rules of where it leads", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-access-links-" });
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    auth: USERS,
    rules: ["admin@/:rwd", "@/public", "bob@/team:rw"],
  });
  port = server.addr.port;
  try {
    for (const dir of ["public/sub", "secret", "team"]) {
      await Deno.mkdir(`${root}/${dir}`, { recursive: true });
    }
    await Deno.writeTextFile(`${root}/secret/s.txt`, "the secret");
    await Deno.writeTextFile(`${root}/public/sub/p.txt`, "public");
    await Deno.symlink("../secret", `${root}/public/link`);
    await Deno.symlink("../secret/s.txt", `${root}/public/slink.txt`);
    await Deno.symlink("sub", `${root}/public/alias`);
    await Deno.symlink("../secret", `${root}/team/into-secret`);
    const bob = [PRINCIPALS.bob];

    for (const path of ["/public/link/s.txt", "/public/slink.txt", "/public/link/"]) {
      assert.equal((await send("GET", path, [])).status, 401, `GET ${path}`);
      assert.equal((await send("GET", path, [ADMIN])).status, 200, `admin GET ${path}`);
    }
    assert.equal((await send("PUT", "/team/into-secret/planted.txt", bob, "x")).status, 403);
    assert.equal((await send("GET", "/team/into-secret/s.txt", bob)).status, 403);
    await assert.rejects(Deno.stat(`${root}/secret/planted.txt`), Deno.errors.NotFound);
    // Nothing of where they lead is listed, archived or found.
    const listing = await send("GET", "/public/?format=json", []);
    const names = (JSON.parse(listing.body).entries as { name: string }[]).map((e) => e.name);
    assert.deepEqual(names.sort(), ["alias", "sub"]);
    const archive = await send("GET", "/public/?archive=tar", []);
    assert.equal(archive.status, 200);
    assert.ok(!archive.body.includes("the secret"), "the archive holds no secret file");
    assert.ok(archive.body.includes("public"));
    const found = await send("GET", "/public/?q=s&format=ndjson", []);
    assert.ok(!found.body.includes("link"), found.body);
    const propfind = await send("PROPFIND", "/public/", ["Depth: 1"]);
    assert.ok(!propfind.body.includes("link"), propfind.body);
    // A link to where the rules let one read anyway works as before.
    assert.equal((await send("GET", "/public/alias/p.txt", [])).body, "public");
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

// --- The decision alone ---------------------------------------------------------------

const anonymous: Principal = { kind: "anonymous" };
const user = (name: string): Principal => ({ kind: "user", name });

Deno.test("AccessPolicy: prefixes match whole segments; the longest wins per audience", () => {
  const policy = new AccessPolicy(["@/team", "bob@/team:rw", "@/team/sub:-"].flatMap(parseRule));
  assert.equal(policy.allows(anonymous, "read", ["team"], "resource"), true);
  assert.equal(policy.allows(anonymous, "read", ["team", "a", "b"], "resource"), true);
  assert.equal(policy.allows(anonymous, "read", ["teamx"], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", ["tea"], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", [], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", ["team", "sub"], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", ["team", "subx"], "resource"), true);
  // bob is everyone too: his own rule gives him /team/sub back.
  assert.equal(policy.allows(user("bob"), "read", ["team", "sub", "x"], "resource"), true);
  assert.equal(policy.allows(user("bob"), "write", ["team", "sub"], "resource"), true);
  assert.equal(policy.allows(user("bob"), "delete", ["team"], "resource"), false);
  assert.equal(policy.allows(user("carol"), "read", ["team", "sub"], "resource"), false);
  // The tree of /team holds /team/sub, which anonymous may not read.
  assert.equal(policy.allows(anonymous, "read", ["team"], "tree"), false);
  assert.equal(policy.allows(user("bob"), "read", ["team"], "tree"), true);
});

Deno.test("AccessPolicy: case-insensitive matching where the file system is", () => {
  const rules = ["@/:r", "@/Secret:-"].flatMap(parseRule);
  const exact = new AccessPolicy(rules);
  const folded = new AccessPolicy(rules, { caseInsensitive: true });
  assert.equal(exact.allows(anonymous, "read", ["SECRET"], "resource"), true);
  assert.equal(folded.allows(anonymous, "read", ["SECRET"], "resource"), false);
  assert.equal(folded.allows(anonymous, "read", ["secret", "x"], "resource"), false);
});

Deno.test("AccessPolicy: a rule holds for every Unicode spelling of its names (NFC, NFD)", () => {
  // A Mac client names a folder "café" in NFD; the rule was typed (and encoded) in NFC.
  const policy = new AccessPolicy(["@/:r", "@/caf%C3%A9:-"].flatMap(parseRule));
  assert.equal(policy.allows(anonymous, "read", ["cafe\u0301", "x"], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", ["caf\u00e9"], "resource"), false);
  assert.equal(policy.allows(anonymous, "read", ["cafe"], "resource"), true);
  const nfd = new AccessPolicy(["@/:r", "@/cafe%CC%81:-"].flatMap(parseRule));
  assert.equal(nfd.allows(anonymous, "read", ["caf\u00e9"], "resource"), false);
});

Deno.test("AccessPolicy: the read filter of a folder is null without rules below it", () => {
  const policy = new AccessPolicy(["@/", "@/a/hidden:-"].flatMap(parseRule));
  assert.equal(policy.readFilter(anonymous, ["b"]), null);
  assert.equal(policy.readFilter(anonymous, ["a", "hidden"]), null);
  const filter = policy.readFilter(anonymous, ["a"])!;
  assert.equal(filter(["a", "hidden"]), false);
  assert.equal(filter(["a", "shown"]), true);
});

Deno.test("parseRule: the syntax, and clear errors", () => {
  assert.deepEqual(parseRule("@/public"), [
    { audience: { kind: "everyone" }, path: ["public"], actions: ["read"] },
  ]);
  assert.deepEqual(parseRule("*@/in%2Cbox:w,/:-"), [
    { audience: { kind: "authenticated" }, path: ["in,box"], actions: ["write"] },
    { audience: { kind: "authenticated" }, path: [], actions: [] },
  ]);
  assert.deepEqual(parseRule("bob,carol@/team/./x/..:dwr").map((r) => [r.audience, r.path]), [
    [{ kind: "user", name: "bob" }, ["team"]],
    [{ kind: "user", name: "carol" }, ["team"]],
  ]);
  assert.deepEqual(parseRule("al@ice.example@/home/al:rwd")[0].audience, {
    kind: "user",
    name: "al@ice.example",
  });
  const bad: [string, RegExp][] = [
    ["", /expected WHO@\/PATH/],
    ["bob", /expected WHO@\/PATH/],
    ["bob@team", /expected WHO@\/PATH/],
    ["bob@/team:rx", /letters from "rwd"/],
    ["bob@/team:rr", /letters from "rwd"/],
    ["bob@/team:", /letters from "rwd"/],
    ["bob@/team,team2", /must start with "\/"/],
    ["bob@/a/../..", /not a valid path/],
    ["bob@/a%zz", /not a valid path/],
    ["bob,@/a", /empty user name/],
    ["*,bob@/a", /stands alone/],
    ["b\x07ob@/a", /control character/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseRule(text), (error: Error) => {
      assert.ok(error instanceof RuleSyntaxError, text);
      assert.match(error.message, message, text);
      return true;
    });
  }
});

// --- A login proxy: --auth-proxy-header and --trusted-proxy ------------------------------

Deno.test("parseCidr and cidrContains: IPv4, IPv6, mapped addresses, odd prefix lengths", () => {
  const inside = (block: string, address: string) => cidrContains(parseCidr(block), address);
  const cases: [string, string, boolean][] = [
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.1", "127.0.0.2", false],
    ["127.0.0.0/8", "127.255.0.9", true],
    ["127.0.0.0/8", "128.0.0.1", false],
    // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    ["127.0.0.0/8", "::ffff:127.0.0.1", true],
    ["10.0.0.0/8", "::ffff:7f00:1", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["0.0.0.0/0", "::1", false],
    ["192.168.1.128/25", "192.168.1.200", true],
    ["192.168.1.128/25", "192.168.1.127", false],
    ["198.51.100.6/31", "198.51.100.7", true],
    ["198.51.100.6/31", "198.51.100.8", false],
    ["::1", "::1", true],
    ["::1/128", "0:0:0:0:0:0:0:1", true],
    ["::1", "::2", false],
    ["fd00::/8", "fdab:cd::1", true],
    ["fd00::/8", "fe80::1", false],
    ["2001:db8::/33", "2001:db8:7fff::1", true],
    ["2001:db8::/33", "2001:db8:8000::1", false],
    ["fe80::/10", "fe80::1%eth0", true],
    ["::/0", "203.0.113.9", true],
    ["::ffff:0:0/96", "10.1.2.3", true],
    ["127.0.0.1", "not an address", false],
    ["127.0.0.1", "", false],
  ];
  for (const [block, address, expected] of cases) {
    assert.equal(inside(block, address), expected, `${address} in ${block}`);
  }
  for (
    const text of [
      "",
      "10.0.0.0/",
      "10.0.0.0/8/8",
      "10.0.0.0/-1",
      "10.0.0.0/08",
      "10.0.0.0/33",
      "10.0.0.1/8",
      "256.0.0.0",
      "10.0.0",
      "010.0.0.1",
      "10.0.0.0/8 ",
      "::1/129",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "[::1]",
      "2001:db8::1/32",
      "example.com",
    ]
  ) {
    assert.throws(() => parseCidr(text), /is not/, JSON.stringify(text));
  }
});

Deno.test("a trusted proxy names the user by header; anyone else's header is ignored and said once", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-proxy-" });
  const notices: string[] = [];
  const start = (trusted: string[]) =>
    serve({
      root,
      port: 0,
      hostname: "127.0.0.1",
      fsync: false,
      rules: ["bob@/team:rw", "@/public"],
      authProxy: { header: "X-Forwarded-User", trustedProxies: trusted },
      onNotice: (message) => notices.push(message),
      onError: (error) => console.error(error),
    });
  let server = await start(["10.0.0.0/8", "::1", "127.0.0.0/8"]);
  try {
    port = server.addr.port;
    const as = (user: string | null) => user === null ? [] : [`X-Forwarded-User: ${user}`];
    assert.equal((await send("PUT", "/team/a.txt", as("bob"), "from bob")).status, 201);
    assert.equal((await send("PUT", "/team/b.txt", as("carol"), "x")).status, 403);
    // No header, an empty one: anonymous; no Basic users, so no challenge: 403.
    const anonymous = await send("PUT", "/team/c.txt", as(null), "x");
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.headers.get("www-authenticate"), undefined);
    assert.equal((await send("PUT", "/team/c.txt", ["X-Forwarded-User:  "], "x")).status, 403);
    assert.equal((await send("GET", "/team/a.txt", as("bob"))).body, "from bob");
    assert.deepEqual(notices, []);
  } finally {
    await server.shutdown();
  }
  server = await start(["10.0.0.0/8", "::2"]);
  try {
    port = server.addr.port;
    for (let i = 0; i < 3; i++) {
      const response = await send("GET", "/team/a.txt", ["X-Forwarded-User: bob"]);
      assert.equal(response.status, 403, "the header of an untrusted peer counts for nothing");
    }
    assert.equal(notices.length, 1, notices.join("\n"));
    assert.match(notices[0], /ignoring the x-forwarded-user header from 127\.0\.0\.1/);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a public address with rules: refused only when a rule lets everyone write or delete", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-public-rules-" });
  const base = { root, port: 0, hostname: "0.0.0.0", fsync: false, auth: ["a:b"] };
  try {
    for (const rule of ["@/inbox:w", "@/:rd"]) {
      await assert.rejects(
        () => serve({ ...base, rules: ["a@/:rwd", rule] }),
        InsecureConfigurationError,
        rule,
      );
    }
    const server = await serve({ ...base, rules: ["a@/:rwd", "@/:r", "*@/inbox:w"] });
    await server.shutdown();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
