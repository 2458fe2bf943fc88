/**
 * A throw-away one-node Ceph cluster with the RADOS Gateway (S3) on
 * 127.0.0.1, for the object-store backend's tests (issue 13). It is a real
 * RADOS cluster: one monitor, one OSD on memstore (the data lives in the
 * OSD's memory and is gone when it stops) and radosgw with the beast
 * frontend. See shared/CEPH.md for how this recipe was found.
 *
 * Usage (`deno task ceph:up` / `deno task ceph:down` run the first two):
 *
 *     deno run --allow-all scripts/ceph.ts up      # start; prints the export lines
 *     deno run --allow-all scripts/ceph.ts env     # print the export lines again
 *     deno run --allow-all scripts/ceph.ts status  # up or down, pids, RSS
 *     deno run --allow-all scripts/ceph.ts down    # stop the daemons, remove the state dir
 *
 * The state directory is `$FILEDROP_CEPH_DIR` (default `/tmp/filedrop-ceph`).
 * `up` writes `$FILEDROP_CEPH_DIR/env`, shell `export` lines that tests and
 * CI can `source`: AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION and FILEDROP_S3_TEST_BUCKET.
 * `FILEDROP_CEPH_WAIT_S` bounds the wait for the gateway (default 90).
 *
 * It installs nothing. The binaries come from Debian 12's packages:
 * `apt-get install -y radosgw ceph-mon ceph-osd` (ceph-common and ceph-base,
 * which bring `ceph`, `radosgw-admin`, `ceph-authtool` and `monmaptool`,
 * come along as dependencies).
 *
 * `--allow-all` because it reads /proc/PID/cmdline (to signal only a pid
 * that is still our daemon) and /proc/PID/status (RSS), which Deno opens
 * only with all permissions.
 *
 * `down` removes the state directory only when it holds the marker file
 * that `up` writes first, so a mistaken FILEDROP_CEPH_DIR is never wiped.
 *
 * @module
 */

import { resolve } from "node:path";

/** Absolute: the daemons chdir to / when they daemonize. */
const STATE_DIR = resolve(Deno.env.get("FILEDROP_CEPH_DIR") ?? "/tmp/filedrop-ceph");
const WAIT_SECONDS = Number(Deno.env.get("FILEDROP_CEPH_WAIT_S") ?? "90");
/** Fixed test credentials: the cluster is on loopback and lives for one test run. */
const ACCESS_KEY = "FILEDROPTESTACCESSKEY";
const SECRET_KEY = "filedrop-test-secret-key-0123456789abcdef";
/** RGW does not check the region of a SigV4 scope against its zonegroup; AWS clients want one. */
const REGION = "us-east-1";
const BUCKET = "filedrop-test";
const RGW_NAME = "client.rgw.filedrop";
/**
 * The OSD's memstore device: object data lives in its memory, allocated as
 * written, so a larger device costs nothing until used. 4 GiB: the 1 GiB
 * transfer of tests/s3_instances_test.ts plus what the rest of the suite
 * holds until RGW's garbage collector frees it (a 1 GiB device would be past
 * its full ratio).
 */
const MEMSTORE_BYTES = 4 * 1024 * 1024 * 1024;

/** Each binary the recipe runs and the Debian package that provides it. */
const BINARIES: Record<string, string> = {
  "ceph-mon": "ceph-mon",
  "ceph-osd": "ceph-osd",
  "radosgw": "radosgw",
  "radosgw-admin": "ceph-common",
  "ceph": "ceph-common",
  "ceph-authtool": "ceph-common",
  "monmaptool": "ceph-base",
};

/** The daemons in stopping order, with their pid files (named by `pid file = $run_dir/$name.pid`). */
const DAEMONS = [
  { name: "radosgw", pidFile: `${RGW_NAME}.pid` },
  { name: "ceph-osd", pidFile: "osd.0.pid" },
  { name: "ceph-mon", pidFile: "mon.a.pid" },
] as const;

const CONF = `${STATE_DIR}/ceph.conf`;
const ENV_FILE = `${STATE_DIR}/env`;
const STATE_FILE = `${STATE_DIR}/state.json`;
/** Written first by `up`: the directory is ours to remove. */
const MARKER = `${STATE_DIR}/.filedrop-ceph`;

interface State {
  monPort: number;
  rgwPort: number;
  endpoint: string;
  startedAt: string;
  /** Seconds from the start of `up` to each phase's end. */
  timings: Record<string, number>;
}

class CephError extends Error {}

const started = performance.now();
function elapsed(): number {
  return Math.round(performance.now() - started) / 1000;
}
function log(message: string): void {
  console.error(`[ceph ${elapsed().toFixed(1)}s] ${message}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The path of `name` in a directory on PATH, or null. */
async function which(name: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    if (dir !== "" && await exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

async function checkBinaries(): Promise<void> {
  const missing: string[] = [];
  for (const name of Object.keys(BINARIES)) {
    if (await which(name) === null) missing.push(name);
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((name) => BINARIES[name]))];
    throw new CephError(
      `missing ${missing.join(", ")} (from the Debian package(s) ${packages.join(", ")}); ` +
        "install them with: apt-get install -y radosgw ceph-mon ceph-osd",
    );
  }
}

/** A port on 127.0.0.1 that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs a command to completion; throws with its output when it fails. Returns stdout. */
async function run(cmd: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new CephError(
      `${cmd} ${args.join(" ")} exited with ${output.code}:\n${stdout}${stderr}`.trimEnd(),
    );
  }
  return stdout;
}

/** `ceph` and friends with our config. */
function ceph(cmd: string, ...args: string[]): Promise<string> {
  return run(cmd, ["-c", CONF, ...args]);
}

function config(monPort: number, rgwPort: number, fsid: string): string {
  const d = STATE_DIR;
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# Each map change (OSD boot, every pool radosgw creates) waits for a Paxos proposal; the
# default interval of 1 s made start-up several seconds longer.
paxos propose interval = 0.1
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES}
run dir = ${d}
pid file = ${d}/$name.pid
admin socket = ${d}/$name.asok
log file = ${d}/$name.log
mon cluster log file = ${d}/cluster.log
crash dir = ${d}/crash
mon data = ${d}/mon.$id
osd data = ${d}/osd.$id
keyring = ${d}/keyring
# The monitor speaks msgr2 only (a port other than 6789 is taken as v2). Without cephx, radosgw
# with the default modes ("secure crc") offered none and got EACCES ("failed to fetch mon
# config"); with "crc" it connects.
ms mon client mode = crc
ms client mode = crc
# Clients (radosgw, radosgw-admin, ceph) give up on the monitor after this many seconds, not 300.
client mount timeout = 30

[${RGW_NAME}]
# Without TCP_NODELAY every answer with a body (GetObject, listings) waited ~40 ms for the
# client's delayed ACK (Nagle): GetObject of 1 KiB took 48 ms, HeadObject 4 ms.
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${d}/rgw
# Deleted and overwritten objects' tails (the parts past the first 4 MiB, and multipart parts)
# wait for RGW's garbage collector, by default for 2 h. Memstore keeps them in the OSD's memory
# and counts them against its device: collect after 10 s instead.
rgw gc obj min wait = 10
rgw gc processor period = 10
log file = ${d}/radosgw.log
`;
}

async function readPid(pidFile: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(`${STATE_DIR}/${pidFile}`)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** `/proc/PID/NAME`, or null when the process is gone. */
async function readProc(pid: number, name: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(`/proc/${pid}/${name}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Whether `pid` is still our daemon: alive, not a zombie, and started with
 * our config file (so a recycled pid is never signalled).
 */
async function isOurs(pid: number, name: string): Promise<boolean> {
  const cmdline = await readProc(pid, "cmdline");
  if (cmdline === null) return false;
  const args = cmdline.split("\0");
  if (!args[0]?.endsWith(name) || !args.includes(CONF)) return false;
  const status = await readProc(pid, "status");
  return status !== null && !/^State:\s+Z/m.test(status);
}

async function rssKiB(pid: number): Promise<number | null> {
  const status = await readProc(pid, "status");
  const match = status === null ? null : /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? null : Number(match[1]);
}

async function runningDaemons(): Promise<{ name: string; pid: number }[]> {
  const found = [];
  for (const daemon of DAEMONS) {
    const pid = await readPid(daemon.pidFile);
    if (pid !== null && await isOurs(pid, daemon.name)) found.push({ name: daemon.name, pid });
  }
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SIGTERM, then SIGKILL after `graceMs` (ceph-osd on memstore ignores SIGTERM for long). */
async function stop(name: string, pid: number, graceMs = 5000): Promise<void> {
  const t0 = performance.now();
  try {
    Deno.kill(pid, "SIGTERM");
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  while (performance.now() - t0 < graceMs) {
    if (!await isOurs(pid, name)) {
      log(`${name} (pid ${pid}) exited on SIGTERM in ${Math.round(performance.now() - t0)} ms`);
      return;
    }
    await sleep(100);
  }
  log(`${name} (pid ${pid}) still running ${graceMs / 1000} s after SIGTERM: SIGKILL`);
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  while (await isOurs(pid, name)) await sleep(50);
}

async function down(): Promise<void> {
  for (const { name, pid } of await runningDaemons()) await stop(name, pid);
  if (!await exists(STATE_DIR)) {
    log(`${STATE_DIR} does not exist: nothing to stop`);
  } else if (await exists(MARKER)) {
    await Deno.remove(STATE_DIR, { recursive: true });
    log(`removed ${STATE_DIR}`);
  } else {
    throw new CephError(`${STATE_DIR} has no ${MARKER}: not made by this script, left alone`);
  }
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no such file)";
  }
}

async function logTails(): Promise<string> {
  const parts = [];
  for (const file of ["mon.a.log", "osd.0.log", "radosgw.log"]) {
    parts.push(
      `--- ${STATE_DIR}/${file} (last 20 lines)\n${await tail(`${STATE_DIR}/${file}`, 20)}`,
    );
  }
  return parts.join("\n");
}

// --- A minimal AWS Signature Version 4, enough to create one bucket. ---

const encoder = new TextEncoder();
function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
async function sha256Hex(data: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(data)));
}
async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(data));
}

/** A signed S3 request without a body or query (PUT /bucket, HEAD /bucket). */
async function s3Request(method: string, endpoint: string, path: string): Promise<Response> {
  const url = new URL(path, endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = await sha256Hex("");
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": amzDate,
  };
  const signedHeaders = Object.keys(headers).sort().join(";");
  const canonicalRequest = [
    method,
    url.pathname,
    "",
    ...Object.keys(headers).sort().map((name) => `${name}:${headers[name]}`),
    "",
    signedHeaders,
    payloadHash,
  ].join("\n");
  const scope = `${day}/${REGION}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonicalRequest)]
    .join("\n");
  let key = await hmac(encoder.encode(`AWS4${SECRET_KEY}`), day);
  for (const part of [REGION, "s3", "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  const { host: _host, ...sent } = headers;
  return fetch(url, {
    method,
    headers: {
      ...sent,
      authorization:
        `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
  });
}

// --- up ---

function envLines(endpoint: string): string {
  return [
    `export AWS_ENDPOINT_URL_S3=${endpoint}`,
    `export AWS_ACCESS_KEY_ID=${ACCESS_KEY}`,
    `export AWS_SECRET_ACCESS_KEY=${SECRET_KEY}`,
    `export AWS_REGION=${REGION}`,
    `export FILEDROP_S3_TEST_BUCKET=${BUCKET}`,
    `export FILEDROP_CEPH_DIR=${STATE_DIR}`,
    "",
  ].join("\n");
}

async function readState(): Promise<State | null> {
  try {
    return JSON.parse(await Deno.readTextFile(STATE_FILE)) as State;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Whether the gateway answers HTTP at all (any status). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function up(): Promise<void> {
  await checkBinaries();
  const state = await readState();
  if (state !== null && await exists(ENV_FILE)) {
    const running = await runningDaemons();
    if (running.length === DAEMONS.length && await answers(state.endpoint)) {
      log(`already up at ${state.endpoint} (state in ${STATE_DIR}); env: ${ENV_FILE}`);
      await Deno.stdout.write(await Deno.readFile(ENV_FILE));
      return;
    }
  }
  if (await exists(MARKER)) {
    log(`${STATE_DIR} exists but the cluster is not (fully) up: cleaning it first`);
    await down();
  } else if (await exists(STATE_DIR)) {
    for await (const _ of Deno.readDir(STATE_DIR)) {
      throw new CephError(
        `${STATE_DIR} exists, is not empty and was not made by this script: ` +
          "set FILEDROP_CEPH_DIR to another directory",
      );
    }
  }

  await Deno.mkdir(STATE_DIR, { recursive: true });
  await Deno.writeTextFile(MARKER, "made by scripts/ceph.ts; 'down' removes this directory\n");
  await Deno.mkdir(`${STATE_DIR}/mon.a`, { recursive: true });
  await Deno.mkdir(`${STATE_DIR}/osd.0`, { recursive: true });
  await Deno.mkdir(`${STATE_DIR}/rgw`, { recursive: true });
  await Deno.mkdir(`${STATE_DIR}/crash`, { recursive: true });
  const timings: Record<string, number> = {};
  try {
    const monPort = freePort();
    let rgwPort = freePort();
    while (rgwPort === monPort) rgwPort = freePort();
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const fsid = crypto.randomUUID();
    await Deno.writeTextFile(CONF, config(monPort, rgwPort, fsid));

    const monmap = `${STATE_DIR}/monmap`;
    await run("monmaptool", [
      "--create",
      "--addv",
      "a",
      `[v2:127.0.0.1:${monPort}]`,
      "--fsid",
      fsid,
      monmap,
    ]);
    await run("ceph-authtool", [
      "--create-keyring",
      `${STATE_DIR}/keyring`,
      "--gen-key",
      "-n",
      "mon.",
      "--cap",
      "mon",
      "allow *",
    ]);
    await ceph(
      "ceph-mon",
      "--mkfs",
      "-i",
      "a",
      "--monmap",
      monmap,
      "--keyring",
      `${STATE_DIR}/keyring`,
    );
    await ceph("ceph-mon", "-i", "a"); // daemonizes
    timings.mon = elapsed();
    log(`ceph-mon up on 127.0.0.1:${monPort}`);

    const osdId = (await ceph("ceph", "osd", "create")).trim();
    if (osdId !== "0") throw new CephError(`ceph osd create gave ${osdId}, expected 0`);
    await ceph("ceph-osd", "-i", "0", "--mkfs");
    await ceph("ceph", "osd", "crush", "add", "osd.0", "1.0", "host=localhost", "root=default");
    await ceph("ceph-osd", "-i", "0"); // daemonizes
    timings.osd = elapsed();
    log("ceph-osd 0 started (memstore)");

    await ceph("radosgw", "-n", RGW_NAME); // connects to the monitor, then daemonizes
    log(`radosgw started; waiting up to ${WAIT_SECONDS} s for ${endpoint}`);
    const deadline = performance.now() + WAIT_SECONDS * 1000;
    while (!await answers(endpoint)) {
      if (performance.now() > deadline) {
        throw new CephError(`radosgw did not answer on ${endpoint} within ${WAIT_SECONDS} s`);
      }
      const pid = await readPid(`${RGW_NAME}.pid`);
      if (pid !== null && !await isOurs(pid, "radosgw")) {
        throw new CephError("radosgw exited before it answered");
      }
      await sleep(250);
    }
    timings.rgw = elapsed();
    log(`radosgw answers on ${endpoint}`);

    // As client.admin: under radosgw's own name it would fight it for the admin socket.
    await ceph(
      "radosgw-admin",
      "user",
      "create",
      "--uid=filedrop-test",
      "--display-name=filedrop test",
      `--access-key=${ACCESS_KEY}`,
      `--secret=${SECRET_KEY}`,
    );
    const response = await s3Request("PUT", endpoint, `/${BUCKET}`);
    const body = await response.text();
    if (!response.ok) {
      throw new CephError(`creating bucket ${BUCKET} gave ${response.status}: ${body}`);
    }
    timings.ready = elapsed();
    log(`user and bucket ${BUCKET} created`);

    await Deno.writeTextFile(ENV_FILE, envLines(endpoint));
    const newState: State = {
      monPort,
      rgwPort,
      endpoint,
      startedAt: new Date().toISOString(),
      timings,
    };
    await Deno.writeTextFile(STATE_FILE, JSON.stringify(newState, null, 2) + "\n");
    log(
      `up in ${timings.ready} s (mon ${timings.mon} s, osd ${timings.osd} s, ` +
        `gateway answering ${timings.rgw} s); source ${ENV_FILE}`,
    );
    await printRss();
    await Deno.stdout.write(new TextEncoder().encode(envLines(endpoint)));
  } catch (err) {
    const tails = await logTails();
    if (Deno.env.get("FILEDROP_CEPH_KEEP_ON_FAIL") === "1") {
      log(`failed; leaving ${STATE_DIR} and any daemons (FILEDROP_CEPH_KEEP_ON_FAIL=1)`);
    } else {
      log("failed; stopping what was started");
      await down();
    }
    throw new CephError(`${err instanceof Error ? err.message : err}\n${tails}`);
  }
}

async function printRss(): Promise<void> {
  for (const { name, pid } of await runningDaemons()) {
    const kib = await rssKiB(pid);
    log(`${name} pid ${pid}: RSS ${kib === null ? "?" : (kib / 1024).toFixed(1)} MiB`);
  }
}

async function status(): Promise<boolean> {
  const state = await readState();
  const running = await runningDaemons();
  const answering = state !== null && await answers(state.endpoint);
  const isUp = running.length === DAEMONS.length && answering;
  console.log(
    isUp
      ? `up at ${state?.endpoint} (state in ${STATE_DIR})`
      : `down (${running.length} of ${DAEMONS.length} daemons running, gateway ${
        answering ? "answering" : "not answering"
      })`,
  );
  await printRss();
  return isUp;
}

async function main(): Promise<number> {
  const [command] = Deno.args;
  try {
    switch (command) {
      case "up":
        await up();
        return 0;
      case "down":
        await down();
        return 0;
      case "env":
        if (!await exists(ENV_FILE)) {
          console.error(`no ${ENV_FILE}: run 'deno task ceph:up' first`);
          return 1;
        }
        await Deno.stdout.write(await Deno.readFile(ENV_FILE));
        return 0;
      case "status":
        return await status() ? 0 : 1;
      default:
        console.error("usage: deno run --allow-all scripts/ceph.ts up|down|env|status");
        return 2;
    }
  } catch (err) {
    if (err instanceof CephError) {
      console.error(`ceph ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) Deno.exit(await main());
