/**
 * Tests that the package is ready for JSR: `deno publish --dry-run` (which
 * checks the license, the exports and slow types, offline) succeeds with no
 * warning, and ships the library, the command and the license but none of the
 * tests, benchmarks or scripts.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { run } from "./_helpers.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The files `deno publish --dry-run` lists, relative to the project, sorted. */
function publishedFiles(output: string): string[] {
  const prefix = `${pathToFileURL(PROJECT).href}/`;
  return output.split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length).replace(/ \([0-9.]+[KMG]?B\)$/, ""))
    .sort();
}

Deno.test("deno publish --dry-run succeeds without warnings and ships the library, not the tests", async () => {
  // --allow-dirty: a developer runs the tests with uncommitted changes; the release runs clean.
  const dryRun = await run(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
  });
  const output = dryRun.stdout + dryRun.stderr;
  assert.equal(dryRun.code, 0, output);
  assert.match(output, /Success Dry run complete/);
  assert.doesNotMatch(output, /warning/i, output);
  assert.match(output, new RegExp(`Simulating publish of ${denoJson.name}@${denoJson.version}`));

  const files = publishedFiles(output);
  for (const needed of ["LICENSE", "README.md", "deno.json", "main.ts", "lib/mod.ts"]) {
    assert.ok(files.includes(needed), `${needed} is published: ${files.join(", ")}`);
  }
  // Every library module git knows is published (the oracle is git, not the publish config).
  const tracked = await run("git", ["ls-files", "lib"], { cwd: PROJECT });
  assert.equal(tracked.code, 0, tracked.stderr);
  for (const file of tracked.stdout.split("\n").filter((name) => name !== "")) {
    assert.ok(files.includes(file), `${file} is published`);
  }
  const leaked = files.filter((file) =>
    /^(tests|bench|browser_tests|scripts|\.ci|\.github)\//.test(file) || file === ".git"
  );
  assert.deepEqual(leaked, [], "tests, benchmarks, scripts and CI stay out of the package");
});

Deno.test("the package declares the MIT license, and LICENSE is the MIT text", async () => {
  assert.equal(denoJson.license, "MIT");
  const license = await Deno.readTextFile(path.join(PROJECT, "LICENSE"));
  assert.match(license, /^MIT License\n/);
  assert.match(
    license,
    /Permission is hereby granted, free of charge, to any person obtaining a copy/,
  );
  assert.match(license, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
});
