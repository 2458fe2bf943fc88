/**
 * Tests of the project's documents: the README links each of them, every
 * relative link in them leads to a file that exists, and CONTRIBUTING.md's
 * architecture map names only modules and identifiers the code has, so the
 * walk-through cannot silently go stale when code is renamed.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DOCUMENTS = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"];

const read = (file: string) => Deno.readTextFileSync(path.join(PROJECT, file));

/** Every TypeScript file under `dir`, relative to the project. */
function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(path.join(PROJECT, dir))) {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...sources(relative));
    else if (entry.name.endsWith(".ts")) found.push(relative);
  }
  return found;
}

Deno.test("the README links the license, the changelog, the security policy, the contributing guide and the systemd unit", () => {
  const readme = read("README.md");
  for (
    const target of [
      "LICENSE",
      "CHANGELOG.md",
      "SECURITY.md",
      "CONTRIBUTING.md",
      "docs/filedrop.service",
    ]
  ) {
    assert.ok(readme.includes(`](${target})`), `README links ${target}`);
  }
});

Deno.test("every relative link in the documents leads to a file that exists", () => {
  for (const document of DOCUMENTS) {
    for (const [, target] of read(document).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      const file = target.split("#")[0];
      assert.doesNotThrow(
        () => Deno.statSync(path.join(PROJECT, file)),
        `${document} links ${target}`,
      );
    }
  }
});

Deno.test("CONTRIBUTING.md's architecture map names only modules and identifiers the code has", () => {
  const guide = read("CONTRIBUTING.md");
  const files = [...sources("lib"), "main.ts"];
  const code = files.map((file) => read(file)).join("\n");
  const spans = [...guide.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]);

  const modules = spans.filter((span) => /^[\w/.-]+\.ts$/.test(span));
  assert.ok(modules.length > 25, `modules named: ${modules.length}`);
  for (const module of modules) {
    const exists = module.includes("/")
      ? files.includes(module)
      : files.some((file) => file.endsWith(`/${module}`) || file === module);
    assert.ok(exists, `${module} exists`);
  }

  // Identifiers in code style: camelCase or PascalCase names, `Type.member`, `call()`.
  const identifiers = spans
    .map((span) => span.replace(/\(\)$/, ""))
    .filter((span) =>
      /^[A-Za-z_#][\w#]*(\.[\w#]+)?$/.test(span) && /[a-z][A-Z]|^[A-Z][a-z]+[A-Z]/.test(span)
    );
  assert.ok(identifiers.length > 25, `identifiers named: ${identifiers.length}`);
  for (const identifier of identifiers) {
    for (const part of identifier.split(".")) {
      assert.match(
        code,
        new RegExp(`(^|[^\\w#])${part.replace("#", "\\#")}\\b`),
        `${identifier} is in lib/`,
      );
    }
  }
});
