/**
 * Tests of the Dockerfile, which cannot be built here (no container runtime,
 * no registry): dockerfile-utils (the linter of VS Code's Docker support)
 * finds no problem in it, and our own checks, on dockerfile-ast's parse, hold:
 * every base is pinned (the runtime's by digest), the server runs as a
 * non-root user with /data as ROOT, a HEALTHCHECK runs the binary's own
 * `healthcheck`, and every file the build copies exists and is in the build
 * context. Each check is also shown to reject a Dockerfile that breaks it.
 * What only a build can show (that the digest resolves, that the binary runs
 * on the base, that /data is writable) is checked by the release workflow.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { DockerfileParser } from "dockerfile-ast";
import type { Dockerfile, Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { parseCommandLine } from "../lib/cli.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DOCKERFILE = await Deno.readTextFile(path.join(PROJECT, "Dockerfile"));
const DOCKERIGNORE = await Deno.readTextFile(path.join(PROJECT, ".dockerignore"));

/** The path the image installs the binary at. */
const BINARY = "/usr/local/bin/filedrop";

/** The instructions of the last stage: what the image is. */
function finalStage(dockerfile: Dockerfile): Instruction[] {
  const froms = dockerfile.getFROMs();
  const lastFrom = froms[froms.length - 1].getRange().start.line;
  return dockerfile.getInstructions().filter((i) => i.getRange().start.line >= lastFrom);
}

/** The JSON array of an exec-form instruction (`["a", "b"]`), after an optional `CMD`. */
function execForm(instruction: Instruction): string[] {
  const text = (instruction.getArgumentsContent() ?? "").replace(/^CMD\s+/, "")
    .replace(/^(--\S+\s+)*CMD\s+/, "");
  const parsed: unknown = JSON.parse(text);
  assert.ok(Array.isArray(parsed), `exec form: ${instruction.getKeyword()} ${text}`);
  return parsed as string[];
}

/** What is wrong with the Dockerfile's bases: each must be pinned, the runtime's by digest. */
function baseProblems(text: string): string[] {
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  const stages = new Set<string>();
  const problems: string[] = [];
  froms.forEach((from, i) => {
    const registry = from.getRegistry();
    const image = `${registry === null ? "" : `${registry}/`}${from.getImageName() ?? ""}`;
    const tag = from.getImageTag();
    const digest = from.getImageDigest();
    if (!stages.has(image)) {
      if (tag === null || tag === "latest") problems.push(`${image}: no version tag`);
      if (i === froms.length - 1 && !/^sha256:[0-9a-f]{64}$/.test(digest ?? "")) {
        problems.push(`${image}: the runtime base is not pinned by digest`);
      }
    }
    const stage = from.getBuildStage();
    if (stage !== null) stages.add(stage);
  });
  return problems;
}

/** What is wrong with who the server runs as: a numeric, non-root USER before the ENTRYPOINT. */
function userProblems(text: string): string[] {
  const stage = finalStage(DockerfileParser.parse(text));
  const users = stage.filter((i) => i.getKeyword() === "USER");
  if (users.length === 0) return ["no USER: the server would run as root"];
  const user = users[users.length - 1].getArgumentsContent() ?? "";
  const [uid, gid] = user.split(":");
  const problems: string[] = [];
  if (!/^[0-9]+$/.test(uid) || Number(uid) === 0) problems.push(`USER ${user} is root or a name`);
  if (gid !== undefined && (!/^[0-9]+$/.test(gid) || Number(gid) === 0)) {
    problems.push(`USER ${user}: group root or a name`);
  }
  return problems;
}

/** What is wrong with the health check: it must exist and run the binary's `healthcheck`. */
function healthProblems(text: string): string[] {
  const checks = finalStage(DockerfileParser.parse(text)).filter((i) =>
    i.getKeyword() === "HEALTHCHECK"
  );
  if (checks.length === 0) return ["no HEALTHCHECK"];
  const command = execForm(checks[checks.length - 1]);
  return command[0] === BINARY && command[1] === "healthcheck"
    ? []
    : [`HEALTHCHECK runs ${command.join(" ")}`];
}

Deno.test("dockerfile-utils finds no problem in the Dockerfile, and does find them in a broken one", () => {
  assert.deepEqual(
    validate(DOCKERFILE).map((d) => `line ${d.range.start.line + 1}: ${d.message}`),
    [],
  );
  const broken = validate("FROM\nUSR nobody\nHEALTHCHECK CMD\n").map((d) => d.message);
  assert.ok(broken.length >= 3, broken.join("; "));
});

Deno.test("every base image is pinned, the runtime's by digest", () => {
  assert.deepEqual(baseProblems(DOCKERFILE), []);
  assert.equal(baseProblems("FROM debian\n").length, 2);
  assert.deepEqual(baseProblems("FROM debian:latest@sha256:" + "a".repeat(64) + "\n"), [
    "debian: no version tag",
  ]);
  assert.deepEqual(baseProblems("FROM deno:2 AS b\nFROM b\nFROM gcr.io/x:1\n"), [
    "gcr.io/x: the runtime base is not pinned by digest",
  ]);
});

Deno.test("the server runs as a non-root user, by number", () => {
  assert.deepEqual(userProblems(DOCKERFILE), []);
  assert.equal(
    userProblems("FROM a:1 AS b\nUSER 1000\nFROM c:1\n").length,
    1,
    "a build stage's USER",
  );
  assert.equal(userProblems("FROM c:1\nUSER 0:0\n").length, 2);
  assert.equal(userProblems("FROM c:1\nUSER nonroot\n").length, 1);
  assert.deepEqual(userProblems("FROM c:1\nUSER root\nUSER 65532:65532\n"), []);
});

Deno.test("a HEALTHCHECK runs the binary's own healthcheck, in exec form (no shell in the image)", () => {
  assert.deepEqual(healthProblems(DOCKERFILE), []);
  assert.deepEqual(healthProblems("FROM c:1\n"), ["no HEALTHCHECK"]);
  assert.equal(healthProblems('FROM c:1\nHEALTHCHECK CMD ["curl", "-f", "http://x/"]\n').length, 1);
  assert.throws(() => healthProblems("FROM c:1\nHEALTHCHECK CMD curl -f http://x/\n"));
});

Deno.test("the image serves /data on 0.0.0.0:8080 as ROOT, through the binary, with the settings the command reads", () => {
  const dockerfile = DockerfileParser.parse(DOCKERFILE);
  const stage = finalStage(dockerfile);
  const env = Object.fromEntries(
    stage.filter((i) => i.getKeyword() === "ENV").flatMap((i) =>
      dockerfile.getENVs().filter((e) => e.getRange().start.line === i.getRange().start.line)
        .flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue() ?? ""]))
    ),
  );
  const entrypoint = execForm(stage.find((i) => i.getKeyword() === "ENTRYPOINT")!);
  assert.deepEqual(entrypoint, [BINARY]);
  const command = parseCommandLine([], env);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.equal(command.options.root, "/data");
  assert.equal(command.options.hostname, "0.0.0.0");
  const expose = stage.find((i) => i.getKeyword() === "EXPOSE")?.getArgumentsContent();
  assert.equal(expose, String(command.options.port));
  assert.equal(stage.find((i) => i.getKeyword() === "VOLUME")?.getArgumentsContent(), '["/data"]');
  assert.equal(stage.find((i) => i.getKeyword() === "WORKDIR")?.getArgumentsContent(), "/data");
  // /data comes from the build stage owned by the server's user, so a new volume is writable.
  const rootfs = dockerfile.getCOPYs().find((copy) =>
    copy.getArguments().map((a) => a.getValue()).join(" ") === "/rootfs/ /"
  );
  assert.equal(rootfs?.getFlags().find((f) => f.getName() === "chown")?.getValue(), "65532:65532");
});

Deno.test("the build compiles with the compile task's permissions, from files that exist and are in the build context", async () => {
  const dockerfile = DockerfileParser.parse(DOCKERFILE);
  const runs = dockerfile.getInstructions().filter((i) => i.getKeyword() === "RUN")
    .map((i) => i.getArgumentsContent() ?? "");
  assert.ok(runs.some((run) => run.includes("scripts/compile_all.ts")), runs.join("\n"));
  const allowed = DOCKERIGNORE.split("\n").filter((line) => line.startsWith("!"))
    .map((line) => line.slice(1));
  assert.ok(DOCKERIGNORE.split("\n").includes("*"), ".dockerignore leaves out everything else");
  for (const copy of dockerfile.getCOPYs()) {
    if (copy.getFlags().some((flag) => flag.getName() === "from")) continue;
    const sources = copy.getArguments().map((a) => a.getValue()).slice(0, -1);
    for (const source of sources) {
      await Deno.stat(path.join(PROJECT, source)); // Throws if the build would miss it.
      assert.ok(
        allowed.some((entry) => source === entry || source.startsWith(entry)),
        `${source} is in the build context`,
      );
    }
  }
});
