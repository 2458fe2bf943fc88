/**
 * Tests of the systemd unit in docs/filedrop.service: `systemd-analyze verify`
 * accepts it without a warning, `systemd-analyze security --offline` rates its
 * sandbox, and its command line is one the command accepts. verify runs over a
 * scratch root (`--root`) holding the system's unit files, the unit and an
 * executable at the unit's ExecStart path, so that nothing outside the temp
 * directory is touched. Where systemd-analyze is missing, the tests say so in
 * their name and are skipped. Starting the service needs a running systemd,
 * which this test does not assume.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "../lib/cli.ts";
import { DEFAULT_LIMITS } from "../lib/mod.ts";
import { run } from "./_helpers.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const UNIT = path.join(PROJECT, "docs", "filedrop.service");
const SYSTEM_UNITS = "/usr/lib/systemd/system";

function hasSystemdAnalyze(): boolean {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const ANALYZE = hasSystemdAnalyze();
const SKIP_REASON = ANALYZE
  ? ""
  : " (skipped: systemd-analyze is not installed; .ci/run installs systemd)";

/** The unit's settings: section -> key -> values, in order (systemd's keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header !== null) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const equals = trimmed.indexOf("=");
    assert.ok(current !== null && equals > 0, `a setting inside a section: ${line}`);
    const key = trimmed.slice(0, equals);
    current.set(key, [...(current.get(key) ?? []), trimmed.slice(equals + 1)]);
  }
  return sections;
}

const unit = parseUnit(await Deno.readTextFile(UNIT));
const service = unit.get("Service")!;
const setting = (key: string) => service.get(key)?.at(-1);
const execStart = setting("ExecStart")!.split(/\s+/);

Deno.test({
  name: `systemd-analyze verify accepts docs/filedrop.service without a warning${SKIP_REASON}`,
  ignore: !ANALYZE,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "filedrop-systemd-" });
    try {
      // The system's units (targets the unit refers to), the unit, and its executable.
      await run("cp", ["-r", SYSTEM_UNITS, path.join(root, "unit-tree")]);
      await Deno.mkdir(path.join(root, "usr", "lib", "systemd"), { recursive: true });
      await Deno.rename(path.join(root, "unit-tree"), path.join(root, SYSTEM_UNITS));
      await Deno.mkdir(path.join(root, "etc", "systemd", "system"), { recursive: true });
      const installed = path.join(root, "etc", "systemd", "system", "filedrop.service");
      await Deno.copyFile(UNIT, installed);
      const binary = path.join(root, execStart[0]);
      await Deno.mkdir(path.dirname(binary), { recursive: true });
      await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });

      const verify = () => run("systemd-analyze", ["verify", `--root=${root}`, "filedrop.service"]);
      const clean = await verify();
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(clean.stderr, "", "no warning");
      assert.equal(clean.stdout, "");

      // The check can fail: an unknown key is a warning, a missing executable an error.
      await Deno.writeTextFile(installed, "NoSuchSetting=1\n", { append: true });
      assert.match((await verify()).stderr, /Unknown key 'NoSuchSetting'/);
      await Deno.copyFile(UNIT, installed);
      await Deno.remove(binary);
      const missing = await verify();
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /is not executable/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: `systemd-analyze security rates the unit's sandbox OK or better${SKIP_REASON}`,
  ignore: !ANALYZE,
  async fn() {
    const { code, stdout, stderr } = await run("systemd-analyze", [
      "security",
      "--offline=true",
      "--no-pager",
      UNIT,
    ], { env: { NO_COLOR: "1", SYSTEMD_COLORS: "0" } });
    assert.equal(code, 0, stderr);
    const overall = /Overall exposure level for filedrop\.service: ([0-9.]+) (\S+)/.exec(stdout);
    assert.ok(overall !== null, stdout);
    // systemd's scale: 0 (sandboxed) to 10 (exposed); below 2 is "OK", the best it names.
    assert.ok(Number(overall[1]) < 2, `exposure ${overall[1]} ${overall[2]}`);
    for (
      const check of [
        "User=/DynamicUser=",
        "ProtectSystem=",
        "NoNewPrivileges=",
        "ProtectHome=",
        "PrivateTmp=",
        "PrivateDevices=",
        "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)",
        "RestrictAddressFamilies=~AF_NETLINK",
      ]
    ) {
      const line = stdout.split("\n").find((line) => line.slice(2).startsWith(`${check} `));
      assert.ok(line?.startsWith("✓"), `${check}: ${line}`);
    }
  },
});

Deno.test("the unit is sandboxed, restarts, writes only ROOT, and runs a command line filedrop accepts", () => {
  assert.deepEqual(service.get("DynamicUser"), ["yes"]);
  assert.deepEqual(service.get("ProtectSystem"), ["strict"]);
  assert.deepEqual(service.get("NoNewPrivileges"), ["yes"]);
  assert.deepEqual(service.get("Restart"), ["on-failure"]);
  // No MemoryDenyWriteExecute=yes: V8's JIT would die at start.
  assert.notEqual(setting("MemoryDenyWriteExecute"), "yes");
  // With ProtectSystem=strict, the writable paths are the state directory and ReadWritePaths=.
  assert.equal(service.get("ReadWritePaths"), undefined);
  assert.deepEqual(service.get("StateDirectory"), ["filedrop"]);

  const command = parseCommandLine(execStart.slice(1));
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.equal(command.options.root, "/var/lib/filedrop", "ROOT is the state directory");
  assert.equal(command.options.hostname, "127.0.0.1");
  assert.equal(command.options.port, 8080);
  // SIGTERM lets requests in flight finish: systemd must wait longer than that before SIGKILL.
  assert.equal(setting("KillSignal"), "SIGTERM");
  const stopSeconds = Number(setting("TimeoutStopSec")!.replace(/s$/, ""));
  assert.ok(stopSeconds * 1000 > DEFAULT_LIMITS.shutdownGraceMs, `TimeoutStopSec=${stopSeconds}s`);
  assert.deepEqual(unit.get("Install")?.get("WantedBy"), ["multi-user.target"]);
});
