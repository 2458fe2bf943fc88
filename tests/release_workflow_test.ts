/**
 * Tests of the release workflow (.github/workflows/release.yml), which only
 * GitHub can run: it parses as YAML, runs on v* tags, publishes to JSR with
 * OIDC once the tests passed, and builds the container image for every
 * platform the Dockerfile can build, smoke-testing it before the push.
 * actionlint is not available here (not in Debian, no npm build we could
 * vouch for), so these checks are our own.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The parts of a workflow these tests read. */
interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | boolean>;
}
interface Job {
  needs?: string | string[];
  permissions?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: { push: { tags: string[] } };
  jobs: Record<string, Job>;
}

const workflow = parse(
  await Deno.readTextFile(path.join(PROJECT, ".github", "workflows", "release.yml")),
) as Workflow;
const dockerfile = await Deno.readTextFile(path.join(PROJECT, "Dockerfile"));

function needs(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

Deno.test("the release runs on v* tags, and every action is pinned to a version", () => {
  assert.deepEqual(workflow.on.push.tags, ["v*"]);
  for (const [name, job] of Object.entries(workflow.jobs)) {
    for (const step of job.steps) {
      if (step.uses !== undefined) {
        assert.match(step.uses, /^[\w.-]+\/[\w.-]+@v\d+$/, `${name}: ${step.uses}`);
      }
    }
  }
});

Deno.test("the JSR job publishes with GitHub's OIDC token after the tests passed", () => {
  const jsr = workflow.jobs.jsr;
  assert.deepEqual(needs(jsr), ["build"]);
  assert.equal(jsr.permissions?.["id-token"], "write");
  assert.ok(jsr.steps.some((step) => step.run?.trim() === "deno publish"));
  // The build job runs the tests and checks the tag against deno.json's version.
  const build = workflow.jobs.build.steps.map((step) => step.run ?? "").join("\n");
  assert.match(build, /deno task test/);
  assert.match(build, /GITHUB_REF_NAME/);
});

Deno.test("the image job smoke-tests the amd64 image, then pushes every platform the Dockerfile builds", () => {
  const image = workflow.jobs.image;
  assert.deepEqual(needs(image), ["build"]);
  assert.equal(image.permissions?.packages, "write");
  const builds = image.steps.filter((step) => step.uses?.startsWith("docker/build-push-action@"));
  assert.equal(builds.length, 2);
  const [local, pushed] = builds;
  assert.equal(local.with?.load, true);
  assert.equal(local.with?.push, undefined);
  const smoke = image.steps.findIndex((step) => step.run?.includes("docker run") ?? false);
  assert.ok(smoke > image.steps.indexOf(local) && smoke < image.steps.indexOf(pushed));
  assert.match(image.steps[smoke].run!, /\.State\.Health\.Status/);
  assert.equal(pushed.with?.push, true);
  const platforms = String(pushed.with?.platforms).split(",");
  assert.deepEqual(platforms, ["linux/amd64", "linux/arm64"]);
  for (const platform of platforms) {
    const arch = platform.split("/")[1];
    assert.match(
      dockerfile,
      new RegExp(`^\\s+${arch}\\) target=`, "m"),
      `Dockerfile builds ${arch}`,
    );
  }
});
