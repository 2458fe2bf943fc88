/**
 * `deno task bench:s3`: filedrop over an S3 gateway against a direct S3
 * client talking to the same gateway, in the same run: GET 16 MiB, PUT 1
 * MiB and GET 1 KiB, each loaded by the same number of concurrent loops for
 * the same time, the two targets interleaved, several repeats; the report
 * gives each side's median throughput and their ratio, and the CPU time per
 * request of filedrop, of this process (the load generator and, on the
 * direct side, the S3 client) and of the gateway's daemons. The direct
 * client is the one filedrop itself uses (lib/storage/s3_client.ts:
 * aws4fetch signatures, GetObject over `fetch`, PutObject over `node:http`
 * with a signed payload, keep-alive connections on both), so the ratio is
 * what the server adds. Needs the test gateway's environment (`deno task
 * ceph:up`, then `. $FILEDROP_CEPH_DIR/env`).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startServer } from "./launcher.ts";
import { clockTicksPerSecond, cpuTicks } from "./procfs.ts";
import { S3Client } from "../lib/storage/s3_client.ts";
import type { S3Config } from "../lib/storage/s3_config.ts";

const MiB = 1024 * 1024;
const HOST = "127.0.0.1";
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** One load case. */
interface Case {
  name: string;
  method: "GET" | "PUT";
  bytes: number;
}

const CASES: Case[] = [
  { name: "get-16m", method: "GET", bytes: 16 * MiB },
  { name: "put-1m", method: "PUT", bytes: MiB },
  { name: "get-1k", method: "GET", bytes: 1024 },
];

/** One measured run: requests completed in `seconds`, and CPU ticks spent meanwhile. */
interface Run {
  requests: number;
  seconds: number;
  /** CPU ticks of filedrop's process (0 on the direct side, where it idles). */
  filedropTicks: number;
  /** CPU ticks of this process: the load generator, and on the direct side the S3 client. */
  clientTicks: number;
  /** CPU ticks of the gateway's daemons (0 when their pids are unknown). */
  gatewayTicks: number;
}

/**
 * The pids of the test gateway's daemons (radosgw, ceph-osd, ceph-mon),
 * from the pid files `scripts/ceph.ts` writes in `$FILEDROP_CEPH_DIR`;
 * empty for any other endpoint.
 */
function gatewayPids(): number[] {
  const dir = Deno.env.get("FILEDROP_CEPH_DIR");
  if (!dir) return [];
  const pids: number[] = [];
  for (const name of ["client.rgw.filedrop.pid", "osd.0.pid", "mon.a.pid"]) {
    try {
      const pid = Number(Deno.readTextFileSync(`${dir}/${name}`).trim());
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    } catch {
      // Not this layout: no gateway figures.
    }
  }
  return pids;
}

function configFromEnv(): S3Config {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const endpoint = env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL");
  const accessKeyId = env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
  const bucket = env("FILEDROP_S3_TEST_BUCKET");
  if (!endpoint || !accessKeyId || !secretAccessKey || !bucket) {
    throw new Error(
      "set AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and " +
        "FILEDROP_S3_TEST_BUCKET (deno task ceph:up, then . $FILEDROP_CEPH_DIR/env)",
    );
  }
  return {
    endpoint,
    bucket,
    prefix: "",
    region: env("AWS_REGION") ?? "us-east-1",
    pathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    credentialSource: "environment",
  };
}

/** Reads a response body to its end without keeping it; its length. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let length = 0;
  if (body === null) return 0;
  for await (const chunk of body) length += chunk.length;
  return length;
}

/** Runs `request` in `concurrency` loops for `seconds`; how many completed, at what CPU cost. */
async function load(
  concurrency: number,
  seconds: number,
  request: (loop: number, n: number) => Promise<void>,
  pids: { filedrop: number[]; gateway: number[] },
): Promise<Run> {
  const before = [cpuTicks(pids.filedrop), cpuTicks([Deno.pid]), cpuTicks(pids.gateway)];
  const started = performance.now();
  const until = started + seconds * 1000;
  let requests = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let n = 0; performance.now() < until; n++) {
      await request(loop, n);
      requests++;
    }
  }));
  return {
    requests,
    seconds: (performance.now() - started) / 1000,
    filedropTicks: cpuTicks(pids.filedrop) - before[0],
    clientTicks: cpuTicks([Deno.pid]) - before[1],
    gatewayTicks: cpuTicks(pids.gateway) - before[2],
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "5" },
      repeats: { type: "string", default: "3" },
      connections: { type: "string", default: "8" },
      cases: { type: "string", default: CASES.map((c) => c.name).join(",") },
      "cpu-prof": { type: "string" },
      out: { type: "string" },
    },
  });
  const names = values.cases.split(",");
  const cases = CASES.filter((c) => names.includes(c.name));
  if (cases.length !== names.length) {
    throw new Error(`--cases: one of ${CASES.map((c) => c.name).join(", ")}`);
  }
  const seconds = Number(values.duration);
  const repeats = Number(values.repeats);
  const concurrency = Number(values.connections);
  const config = configFromEnv();
  const client = new S3Client(config);
  const prefix = `bench-s3/${new Date().toISOString().replace(/[:.]/g, "-")}/`;
  const bodies = new Map(CASES.map((c) => {
    const body = new Uint8Array(c.bytes);
    crypto.getRandomValues(body.subarray(0, Math.min(c.bytes, 65536)));
    return [c.name, body];
  }));
  const etags = new Map<string, string>();
  for (const c of cases.filter((c) => c.method === "GET")) {
    const key = `${prefix}${c.name}.bin`;
    etags.set(c.name, (await client.putObject(key, bodies.get(c.name)!)).etag);
  }
  const port = (() => {
    const listener = Deno.listen({ hostname: HOST, port: 0 });
    const free = listener.addr.port;
    listener.close();
    return free;
  })();
  const server = await startServer("filedrop", {
    command: Deno.execPath(),
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--v8-flags=--max-semi-space-size=4",
      ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : []),
      MAIN,
      "--host",
      HOST,
      "--port",
      String(port),
      "--quiet",
      `s3://${config.bucket}/${prefix}`,
    ],
    env: {},
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    readyPattern: null,
    supportsPut: true,
    version: "main.ts",
  }, { origin: `http://${HOST}:${port}`, cpus: null, timeoutMs: 30_000 });
  const origin = `http://${HOST}:${port}`;
  const results: Record<string, { filedrop: Run[]; direct: Run[] }> = {};
  const pids = { filedrop: server.processIds(), gateway: gatewayPids() };
  const loadStart = Deno.loadavg()[0].toFixed(2);
  try {
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const c of cases) {
        const body = bodies.get(c.name)!;
        const key = `${prefix}${c.name}.bin`;
        const viaFiledrop = (loop: number, n: number) =>
          c.method === "GET"
            ? fetch(`${origin}/${c.name}.bin`).then(async (response) => {
              if ((await drain(response.body)) !== c.bytes || response.status !== 200) {
                throw new Error(`filedrop GET ${c.name}: ${response.status}`);
              }
            })
            : fetch(`${origin}/up/${loop}-${n % 4}.bin`, { method: "PUT", body }).then(
              async (response) => {
                await response.body?.cancel();
                if (!response.ok) throw new Error(`filedrop PUT: ${response.status}`);
              },
            );
        const direct = (loop: number, n: number) =>
          c.method === "GET"
            ? client.getObject(key, { start: 0, etag: etags.get(c.name)! }).then(
              async (response) => {
                if ((await drain(response.body)) !== c.bytes) throw new Error("short GetObject");
              },
            )
            : client.putObject(`${prefix}direct/${loop}-${n % 4}.bin`, body).then(() => {});
        const order = repeat % 2 === 0 ? ["filedrop", "direct"] : ["direct", "filedrop"];
        results[c.name] ??= { filedrop: [], direct: [] };
        for (const side of order as ("filedrop" | "direct")[]) {
          const run = await load(
            concurrency,
            seconds,
            side === "filedrop" ? viaFiledrop : direct,
            pids,
          );
          results[c.name][side].push(run);
          console.log(
            `repeat ${repeat + 1} ${c.name} ${side}: ${
              (run.requests / run.seconds).toFixed(1)
            } req/s`,
          );
        }
      }
    }
  } finally {
    await server.stop();
    const { objects } = await client.listObjects({ prefix });
    for (const object of objects) await client.deleteObject(object.key);
    client.close();
  }
  const loadEnd = Deno.loadavg()[0].toFixed(2);
  const tick = 1e6 / clockTicksPerSecond();
  const lines = [
    `# filedrop over S3 against a direct S3 client, ${new Date().toISOString()}`,
    "",
    `Gateway ${config.endpoint}; ${concurrency} concurrent loops, ${seconds} s per run, ` +
    `${repeats} repeats interleaved; load average (1 min) ${loadStart} at the start, ` +
    `${loadEnd} at the end.`,
    "",
    "| case | filedrop req/s | direct req/s | filedrop MiB/s | direct MiB/s | ratio (median) | ratios per repeat |",
    "| ---- | -------------: | -----------: | -------------: | -----------: | -------------: | ----------------- |",
  ];
  const cpuLines = [
    "",
    "CPU µs per request (medians): filedrop's process; this process (load generator, and the",
    "S3 client on the direct side); the gateway's daemons (radosgw, ceph-osd, ceph-mon).",
    "CPU-bound ratio: all of the direct side's CPU per request over all of filedrop's side's,",
    "the ratio of throughputs when the CPUs they share are the limit.",
    "",
    "| case | filedrop | client via filedrop | client direct | gateway via filedrop | gateway direct | CPU-bound ratio |",
    "| ---- | -------: | ------------------: | ------------: | -------------------: | -------------: | --------------: |",
  ];
  const summary: Record<string, unknown> = {};
  for (const c of cases) {
    const { filedrop, direct } = results[c.name];
    const rate = (run: Run) => run.requests / run.seconds;
    const perRequest = (runs: Run[], ticks: (run: Run) => number) =>
      median(runs.map((run) => ticks(run) * tick / Math.max(run.requests, 1)));
    const ratios = filedrop.map((run, i) => rate(run) / rate(direct[i]));
    const f = median(filedrop.map(rate));
    const d = median(direct.map(rate));
    const cpu = {
      filedrop: perRequest(filedrop, (run) => run.filedropTicks),
      clientViaFiledrop: perRequest(filedrop, (run) => run.clientTicks),
      clientDirect: perRequest(direct, (run) => run.clientTicks),
      gatewayViaFiledrop: perRequest(filedrop, (run) => run.gatewayTicks),
      gatewayDirect: perRequest(direct, (run) => run.gatewayTicks),
    };
    const cpuBoundRatio = (cpu.clientDirect + cpu.gatewayDirect) /
      (cpu.filedrop + cpu.clientViaFiledrop + cpu.gatewayViaFiledrop);
    summary[c.name] = { filedrop, direct, ratios, cpuMicrosPerRequest: cpu, cpuBoundRatio };
    lines.push(
      `| ${c.name} | ${f.toFixed(1)} | ${d.toFixed(1)} | ${(f * c.bytes / MiB).toFixed(1)} | ` +
        `${(d * c.bytes / MiB).toFixed(1)} | ${median(ratios).toFixed(2)} | ` +
        `${ratios.map((r) => r.toFixed(2)).join(", ")} |`,
    );
    cpuLines.push(
      `| ${c.name} | ${Object.values(cpu).map((micros) => micros.toFixed(0)).join(" | ")} | ` +
        `${cpuBoundRatio.toFixed(2)} |`,
    );
  }
  lines.push(...cpuLines);
  console.log(lines.join("\n"));
  if (values.out) {
    await Deno.writeTextFile(
      values.out,
      JSON.stringify({ concurrency, seconds, loadStart, loadEnd, summary }, null, 2),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
