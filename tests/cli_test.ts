/**
 * Tests of the `filedrop` command (main.ts, lib/cli.ts) as a user runs it: a
 * real `deno run main.ts` process, talked to with curl, stopped with SIGTERM.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine, parseSize, UsageError } from "../lib/cli.ts";
import { firstLine, run, storedNames } from "./_helpers.ts";

const CURL = "/usr/bin/curl";
const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MAIN = path.join(PROJECT, "main.ts");
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];

/** Runs main.ts to completion (for commands that exit on their own). */
function runMain(
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(Deno.execPath(), ["run", ...PERMISSIONS, MAIN, ...args], { cwd: PROJECT, stdin });
}

/** A started `filedrop` process. */
interface Started {
  /** The URL from the first stdout line. */
  url: string;
  /** The bound port. */
  port: number;
  /** The first stdout line. */
  banner: string;
  /** Everything on stderr so far (complete once the process has exited). */
  stderr: () => string;
}

/**
 * Spawns main.ts with `args`, waits for its first stdout line, runs `fn`,
 * then sends SIGTERM and expects exit code 0. The process is killed whatever
 * happens.
 */
async function withCli(
  args: string[],
  fn: (started: Started) => Promise<void>,
  env?: Record<string, string>,
): Promise<void> {
  const permissions = env === undefined ? PERMISSIONS : [...PERMISSIONS, "--allow-env"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    cwd: PROJECT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (stderrText += text) }),
  );
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdoutDone: Promise<void> | null = null;
  let exited = false;
  try {
    const banner = await firstLine(lines, () => stderrText);
    // Keep draining stdout so the process never blocks on a full pipe.
    stdoutDone = (async () => {
      while (!(await lines.read()).done);
    })();
    const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(banner);
    assert.ok(match, `banner has the URL: ${banner}`);
    await fn({ url: match[0], port: Number(match[1]), banner, stderr: () => stderrText });

    child.kill("SIGTERM");
    const status = await child.status;
    exited = true;
    assert.equal(status.code, 0, `exit code after SIGTERM; stderr: ${stderrText}`);
  } finally {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    if (stdoutDone === null) await lines.cancel();
    else await stdoutDone;
    await stderrDone;
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "filedrop-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** curl with `args`, returning the status code (printed last) and the body before it. */
async function curl(args: string[], stdin?: Uint8Array): Promise<{ status: number; body: string }> {
  const { code, stdout, stderr } = await run(CURL, ["-sS", "-w", "\n%{http_code}", ...args], {
    stdin,
  });
  assert.equal(code, 0, `curl ${args.join(" ")}: ${stderr}`);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

/** Asserts a failed start: exit code 2 and exactly one `filedrop: ...` line on stderr. */
function assertStartFailure(
  result: { code: number; stdout: string; stderr: string },
  pattern: RegExp,
): void {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0], /^filedrop: /);
  assert.match(lines[0], pattern);
}

// --- A running server -------------------------------------------------------------

Deno.test("filedrop serves GET and PUT with curl, then exits 0 on SIGTERM", async () => {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(path.join(root, "hello.txt"), "hello from disk\n");
    await withCli(["--port", "0", "--no-fsync", root], async ({ url, banner }) => {
      assert.ok(banner.includes(await Deno.realPath(root)), banner);

      const get = await curl([`${url}hello.txt`]);
      assert.equal(get.status, 200);
      assert.equal(get.body, "hello from disk\n");

      const put = await curl(["-T", "-", `${url}sub/uploaded.txt`], new TextEncoder().encode("up"));
      assert.equal(put.status, 201);
      assert.equal(await Deno.readTextFile(path.join(root, "sub", "uploaded.txt")), "up");
    });
  });
});

Deno.test("--read-only refuses PUT with 403 and says so in the banner", async () => {
  await withTempDir(async (root) => {
    await withCli(["--read-only", "--port", "0", root], async ({ url, banner }) => {
      assert.match(banner, /read-only/);
      const put = await curl(["-X", "PUT", "-d", "nope", `${url}x.txt`]);
      assert.equal(put.status, 403);
    });
    assert.deepEqual([...Deno.readDirSync(root)], []);
  });
});

Deno.test("--max-body 1K answers 413 to a 2 KiB PUT and takes a 1 KiB one", async () => {
  await withTempDir(async (root) => {
    await withCli(["--max-body", "1K", "--port", "0", root], async ({ url }) => {
      const big = await curl(["-T", "-", `${url}big.bin`], new Uint8Array(2048));
      assert.equal(big.status, 413);
      const sized = await curl(["-X", "PUT", "--data-binary", "x".repeat(2048), `${url}big.bin`]);
      assert.equal(sized.status, 413);
      const fits = await curl(["-X", "PUT", "--data-binary", "x".repeat(1024), `${url}ok.bin`]);
      assert.equal(fits.status, 201);
    });
    assert.deepEqual(storedNames(root), ["ok.bin"]);
  });
});

/**
 * 127.0.0.1:8080 (the default port, which only the fallback test needs),
 * bound when this file loads and held until that test ends: binding it only
 * inside the test would race other processes, and a test that cannot hold it
 * must say so instead of passing. When it cannot be bound, the reason why.
 */
const DEFAULT_PORT_HOLD: { listener: Deno.Listener } | { reason: string } = (() => {
  try {
    return { listener: Deno.listen({ hostname: "127.0.0.1", port: 8080 }) };
  } catch (error) {
    return { reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
})();

Deno.test({
  name: "with no --port and 8080 busy, filedrop falls back to a free port" +
    ("reason" in DEFAULT_PORT_HOLD
      ? ` (ignored: this test must hold 127.0.0.1:8080 itself and cannot: ${DEFAULT_PORT_HOLD.reason})`
      : ""),
  ignore: "reason" in DEFAULT_PORT_HOLD,
  fn: async () => {
    assert.ok("listener" in DEFAULT_PORT_HOLD);
    using _blocker = DEFAULT_PORT_HOLD.listener;
    await withTempDir(async (root) => {
      await withCli([root], async ({ port, stderr }) => {
        assert.notEqual(port, 8080);
        assert.match(stderr(), /port 8080 is in use; picking a free port instead/);
        const get = await curl([`http://127.0.0.1:${port}/`]);
        assert.equal(get.status, 200);
      });
    });
  },
});

// --- Commands that exit at once --------------------------------------------------

Deno.test("--help and -h print the usage and exit 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const { code, stdout, stderr } = await runMain([flag]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Usage: filedrop \[options\] \[ROOT\]/);
    assert.match(stdout, /--read-only/);
    assert.match(stdout, /--max-body/);
    assert.equal(stderr, "");
  }
});

Deno.test("--version and -V print the version from deno.json", async () => {
  const { version } = JSON.parse(await Deno.readTextFile(path.join(PROJECT, "deno.json")));
  assert.match(version, /^\d+\.\d+\.\d+/);
  for (const flag of ["--version", "-V"]) {
    const { code, stdout } = await runMain([flag]);
    assert.equal(code, 0);
    assert.equal(stdout, `filedrop ${version}\n`);
  }
});

Deno.test("bad command lines exit 2 with one clear line on stderr", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "plain.txt");
    await Deno.writeTextFile(file, "not a directory");
    const cases: [string[], RegExp][] = [
      [["--bogus", dir], /unknown option '--bogus'.*--help/i],
      [["-x", dir], /unknown option '-x'/i],
      [["--port"], /--port/],
      [["--port", "99999", dir], /invalid port: "99999"/],
      [["--port", "80a", dir], /invalid port/],
      [["--max-body", "lots", dir], /invalid size/],
      [[dir, dir], /only one ROOT/],
      [["--port", "0", path.join(dir, "missing")], /ROOT ".*missing" does not exist/],
      [["--port", "0", file], /ROOT ".*plain\.txt" is not a directory/],
      [["--host", "no-such-host.invalid", "--port", "0", dir], /no-such-host\.invalid/],
    ];
    for (const [args, pattern] of cases) {
      assertStartFailure(await runMain(args), pattern);
    }
  });
});

Deno.test("an explicit --port that is in use exits 2 with one clear line", async () => {
  await withTempDir(async (dir) => {
    using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (blocker.addr as Deno.NetAddr).port;
    const result = await runMain(["--port", String(port), dir]);
    assertStartFailure(result, new RegExp(`port ${port} is already in use`));
  });
});

// --- The parser itself -------------------------------------------------------------

Deno.test("parseCommandLine maps options to ServeOptions", () => {
  const command = parseCommandLine([
    "--host",
    "0.0.0.0",
    "--port",
    "9000",
    "--read-only",
    "--max-body",
    "10M",
    "--no-fsync",
    "--no-listing",
    "--dotfiles",
    "--cache-control",
    "max-age=60",
    "public",
  ]);
  assert.ok(command.kind === "serve", command.kind);
  assert.equal(command.portWasDefault, false);
  assert.deepEqual(command.options, {
    root: "public",
    hostname: "0.0.0.0",
    port: 9000,
    readOnly: true,
    fsync: false,
    listing: false,
    dotfiles: true,
    cacheControl: "max-age=60",
    limits: { maxBodyBytes: 10 * 2 ** 20 },
  });

  const defaults = parseCommandLine([]);
  assert.ok(defaults.kind === "serve", defaults.kind);
  assert.equal(defaults.portWasDefault, true);
  assert.equal(defaults.options.root, ".");
  assert.equal(defaults.options.port, 8080);
  assert.equal(defaults.options.fsync, true);
  assert.equal(defaults.options.limits, undefined);

  assert.deepEqual(parseCommandLine(["--port", "0", "."]).kind, "serve");
  assert.throws(() => parseCommandLine(["--cache-control", "a\r\nSet-Cookie: x"]), UsageError);
});

Deno.test("parseSize accepts plain and suffixed sizes and rejects nonsense", () => {
  const good: [string, number][] = [
    ["0", 0],
    ["1048576", 1048576],
    ["1K", 1024],
    ["1k", 1024],
    ["512K", 512 * 1024],
    ["1.5G", 1.5 * 2 ** 30],
    ["10MiB", 10 * 2 ** 20],
    ["10MB", 10 * 2 ** 20],
    ["2T", 2 * 2 ** 40],
    [" 3M ", 3 * 2 ** 20],
  ];
  for (const [text, bytes] of good) assert.equal(parseSize(text), bytes, text);
  for (const bad of ["", "-1", "1X", "K", "1.2.3", "1e9", "99999999999T"]) {
    assert.throws(() => parseSize(bad), UsageError, bad);
  }
});

// --- Options added for auth, logs, environment ----------------------------------------

Deno.test("hash-password prints a hash that --auth accepts; writes then need credentials", async () => {
  const hashed = await runMain(["hash-password"], new TextEncoder().encode("s3cret\n"));
  assert.equal(hashed.code, 0, hashed.stderr);
  const hash = hashed.stdout.trim();
  assert.match(hash, /^\$pbkdf2-sha256\$/);
  await withTempDir(async (dir) => {
    await withCli(["--port", "0", "--quiet", "--auth", `alice:${hash}`, dir], async ({ url }) => {
      const anonymous = await curl(["-X", "PUT", "-d", "x", `${url}a.txt`]);
      assert.equal(anonymous.status, 401);
      const wrong = await curl(["-u", "alice:nope", "-X", "PUT", "-d", "x", `${url}a.txt`]);
      assert.equal(wrong.status, 401);
      const right = await curl(["-u", "alice:s3cret", "-X", "PUT", "-d", "x", `${url}a.txt`]);
      assert.equal(right.status, 201);
      assert.equal((await curl([`${url}a.txt`])).body, "x", "reads stay open");
    });
  });
});

Deno.test("--log json writes one JSON access line per request on stdout", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(path.join(dir, "a.txt"), "a");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, MAIN, "--port", "0", "--log", "json", dir],
      cwd: PROJECT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    // A server that exits early must fail the test, not leave it appending `undefined` forever.
    const more = async () => {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stdout ended early; so far: ${JSON.stringify(text)}`);
      return value;
    };
    let text = "";
    try {
      while (!/http:\/\/127\.0\.0\.1:\d+\//.test(text)) text += await more();
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(text)![0];
      await curl(["-A", "\u00e9vil\tagent", `${url}a.txt?token=hunter2`]);
      while (!text.includes('"status"')) text += await more();
      while (!text.slice(text.indexOf('{"time"')).includes("\n")) {
        text += await more();
      }
      const line = text.slice(text.indexOf('{"time"')).split("\n")[0];
      const record = JSON.parse(line);
      assert.equal(record.method, "GET");
      assert.equal(record.status, 200);
      assert.equal(record.target, "/a.txt?token=REDACTED");
      assert.equal(
        record.user_agent,
        "\u00c3\u00a9vil\tagent",
        "UTF-8 bytes logged as latin1, exact",
      );
      assert.doesNotMatch(line, /[^ -~]/, "the line is printable ASCII");
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // It exited already (the failure above says why); only its status is left to wait for.
      }
      await child.status;
      await reader.cancel();
      await child.stderr.cancel();
    }
  });
});

Deno.test("environment variables configure the server when readable; flags win", async () => {
  await withTempDir(async (dir) => {
    const env = { FILEDROP_ROOT: dir, FILEDROP_READ_ONLY: "true", PORT: "0" };
    await withCli(["--quiet"], async ({ url, banner }) => {
      assert.match(banner, /\(read-only\)/);
      assert.ok(banner.includes(await Deno.realPath(dir)));
      assert.equal((await curl(["-X", "PUT", "-d", "x", `${url}a.txt`])).status, 403);
    }, env);
    const bad = await run(Deno.execPath(), ["run", ...PERMISSIONS, "--allow-env", MAIN], {
      cwd: PROJECT,
      env: { FILEDROP_ROOT: dir, FILEDROP_READ_ONLY: "maybe" },
    });
    assertStartFailure(bad, /FILEDROP_READ_ONLY/);
  });
});

Deno.test("a mistyped option gets a suggestion; anonymous public writes are refused", async () => {
  assertStartFailure(await runMain(["--prot", "80"]), /did you mean --port\?/);
  assertStartFailure(await runMain(["--read-onyl"]), /did you mean --read-only\?/);
  await withTempDir(async (dir) => {
    assertStartFailure(
      await runMain(["--host", "0.0.0.0", "--port", "0", dir]),
      /--auth.*--read-only.*--public-writes/,
    );
  });
});

// --- Access: --rule, the login proxy, --config ----------------------------------------

Deno.test("--rule, --auth-proxy-header and --trusted-proxy parse into ServeOptions", () => {
  const command = parseCommandLine([
    "--auth",
    "bob:pw",
    "--rule",
    "bob@/team:rw",
    "--rule",
    "@/public",
    "--auth-proxy-header",
    "X-Forwarded-User",
    "--trusted-proxy",
    "10.0.0.0/8, fd00::/8",
    "--trusted-proxy",
    "127.0.0.1",
  ]);
  assert.ok(command.kind === "serve");
  assert.deepEqual(command.options.rules, ["bob@/team:rw", "@/public"]);
  assert.deepEqual(command.options.authProxy, {
    header: "X-Forwarded-User",
    trustedProxies: ["10.0.0.0/8", "fd00::/8", "127.0.0.1"],
  });
});

Deno.test("bad access options are usage errors: exit 2, one line saying what is wrong", async () => {
  const cases: [string[], RegExp][] = [
    [["--rule", "bob"], /--rule: rule "bob": expected WHO@\/PATH/],
    [["--rule", "bob@/team:rx"], /letters from "rwd"/],
    [["--rule", "@/../x"], /not a valid path/],
    [["--auth", "a:b", "--auth-reads", "--rule", "a@/:r"], /--auth-reads does not go with --rule/],
    [["--auth-proxy-header", "X-User"], /go together/],
    [["--trusted-proxy", "10.0.0.0/8"], /go together/],
    [["--auth-proxy-header", "X User", "--trusted-proxy", "::1"], /is no header name/],
    [["--auth-proxy-header", "X-User", "--trusted-proxy", "10.0.0.1/8"], /bits are set past/],
    [["--auth-proxy-header", "X-User", "--trusted-proxy", "10.0.0.0/33"], /from 0 to 32/],
    [["--auth-proxy-header", "X-User", "--trusted-proxy", "10.0.0/8"], /is not an IPv4/],
    [["--auth-proxy-header", "X-User", "--trusted-proxy", "fe80::1%eth0"], /is not an IPv4/],
    [["--auth-proxy-header", "X-User", "--trusted-proxy", "::1/129"], /from 0 to 128/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(() => parseCommandLine(args), (error: Error) => {
      assert.ok(error instanceof UsageError, args.join(" "));
      assert.match(error.message, pattern, args.join(" "));
      return true;
    });
  }
  // The real command: exit code 2 and the message, as for every usage error.
  assertStartFailure(await runMain(["--rule", "bob@/team:rx"]), /letters from "rwd"/);
  await withTempDir(async (dir) => {
    assertStartFailure(
      await runMain(["--port", "0", "--rule", "nobody@/:r", dir]),
      /a rule names the user "nobody", who has no --auth/,
    );
  });
});

const EXAMPLE = path.join(PROJECT, "docs", "filedrop.example.yaml");

Deno.test("docs/filedrop.example.yaml loads, and a server started from it applies its rules", async () => {
  const command = parseCommandLine(["--config", EXAMPLE]);
  assert.ok(command.kind === "serve");
  assert.equal(command.options.root, path.join(PROJECT, "docs", "drop"), "relative to the file");
  assert.equal(command.options.hostname, "0.0.0.0");
  assert.equal(command.options.port, 8080);
  assert.deepEqual(command.options.auth?.map((credential) => credential.split(":")[0]), [
    "admin",
    "bob",
    "carol",
  ]);
  assert.equal(command.options.rules?.length, 4);
  assert.deepEqual(command.reporting, { log: "combined", quiet: false });

  await withTempDir(async (dir) => {
    await Deno.mkdir(path.join(dir, "public"));
    await Deno.writeTextFile(path.join(dir, "public", "hello.txt"), "hello");
    // Flags win over the file: another host, port and ROOT.
    const args = ["--config", EXAMPLE, "--host", "127.0.0.1", "--port", "0", "--quiet", dir];
    await withCli(args, async ({ url }) => {
      assert.equal((await curl([`${url}public/hello.txt`])).body, "hello");
      assert.equal((await curl([`${url}team/`])).status, 401);
      const put = (user: string, target: string) =>
        curl(
          ["-u", `${user}:${user}-example-password`, "-T", "-", `${url}${target}`],
          new TextEncoder().encode("x"),
        );
      assert.equal((await put("bob", "team/notes.txt")).status, 201);
      assert.equal((await put("carol", "public/x.txt")).status, 403);
      const remove = (user: string) =>
        curl(["-u", `${user}:${user}-example-password`, "-X", "DELETE", `${url}team/notes.txt`]);
      assert.equal((await remove("bob")).status, 403);
      assert.equal((await remove("admin")).status, 204);
    });
  });
});

Deno.test("--config: plain passwords only in a file nobody else may read; clear errors", async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, "filedrop.yaml");
    const write = async (text: string, mode = 0o600) => {
      await Deno.writeTextFile(file, text);
      await Deno.chmod(file, mode);
    };
    await write("users:\n  ann: secret\nrules: ['ann@/:rwd']\n", 0o644);
    assertStartFailure(
      await runMain(["--config", file]),
      /holds plain passwords but is readable by group or others \(mode 0644\): chmod 600/,
    );
    await Deno.chmod(file, 0o640);
    assert.throws(() => parseCommandLine(["--config", file]), /mode 0640/);
    await Deno.chmod(file, 0o600);
    const command = parseCommandLine(["--config", file, "--rule", "@/pub"]);
    assert.ok(command.kind === "serve");
    assert.deepEqual(command.options.auth, ["ann:secret"]);
    assert.deepEqual(command.options.rules, ["ann@/:rwd", "@/pub"], "flags add to the file's");
    // Hashes may be read by others.
    await write(`users:\n  ann: "${HASH_OF_X}"\n`, 0o644);
    assert.ok(parseCommandLine(["--config", file]).kind === "serve");
    // The share secret signs links to anything: whoever reads it may read and drop everywhere.
    await write("share-secret: 0123456789abcdef-0123\n", 0o644);
    assert.throws(
      () => parseCommandLine(["--config", file]),
      /holds the share secret but is readable by group or others \(mode 0644\): chmod 600/,
    );
    await Deno.chmod(file, 0o600);
    assert.ok(parseCommandLine(["--config", file]).kind === "serve");

    const bad: [string, RegExp][] = [
      ["prot: 80\n", /prot: no such option/],
      ["port: [1, 2]\n", /port: expected a value/],
      ["read-only: yes please\n", /read-only: expected true or false/],
      ["users: [ann]\n", /users: expected a map/],
      ["users:\n  ann: 3\n", /users.ann: expected a password/],
      ["rules: 'bob'\n", /rule "bob": expected WHO@/],
      ["help: true\n", /help: no such option/],
      ["config: other.yaml\n", /config: no such option/],
      ["- a list\n", /expected a map of option names/],
      ["port: [unclosed\n", /is not valid YAML/],
    ];
    for (const [text, pattern] of bad) {
      await write(text);
      assert.throws(() => parseCommandLine(["--config", file]), (error: Error) => {
        assert.ok(error instanceof UsageError, text);
        assert.match(error.message, pattern, text);
        return true;
      });
    }
    assert.throws(
      () => parseCommandLine(["--config", path.join(dir, "missing.yaml")]),
      /cannot read/,
    );
  });
});

/** A value in the hash format of hash-password (the command line only looks at its prefix). */
const HASH_OF_X = "$pbkdf2-sha256$1000$c2l4dGVlbiBieXRlIHNsdA==$" +
  "Xw+v4YwXp2ikYqi+NM5BVnA0zN1p6cQ8V0XJ/7u2Zk8=";
