/** Tests of lib/storage/fs_path.ts: store paths under ROOT, and the real-path checks on a real tree. */

import assert from "node:assert/strict";
import * as path from "node:path";
import { HttpError } from "../lib/http/errors.ts";
import { checkWriteInside, isInside, resolveForRead, toFsPath } from "../lib/storage/fs_path.ts";
import { decodeUrlPath } from "../lib/handlers/url_path.ts";

function isHttpError(status: number): (error: unknown) => boolean {
  return (error) => error instanceof HttpError && error.status === status;
}

async function assertRejectsWith(promise: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(promise, isHttpError(status));
}

// --- toFsPath ----------------------------------------------------------------

Deno.test("toFsPath joins ROOT and segments with the platform separator", () => {
  const root = path.join(path.sep, "srv", "public");
  assert.equal(toFsPath(root, []), root);
  assert.equal(toFsPath(root, ["a"]), `${root}${path.sep}a`);
  assert.equal(toFsPath(root, ["a", "b c.txt"]), `${root}${path.sep}a${path.sep}b c.txt`);
  assert.equal(toFsPath(root, ["%2e%2e"]), `${root}${path.sep}%2e%2e`);
  assert.equal(toFsPath(`${root}${path.sep}`, ["a"]), `${root}${path.sep}a`);
});

Deno.test("toFsPath refuses segments that would navigate", () => {
  const root = path.join(path.sep, "srv", "public");
  for (const segments of [[".."], ["a", ".."], ["."], [""], ["a/b"], ["a\\b"], ["../x"]]) {
    assert.throws(() => toFsPath(root, segments), RangeError, JSON.stringify(segments));
  }
});

// --- isInside ----------------------------------------------------------------

const insideCases: [root: string, candidate: string, inside: boolean][] = [
  ["/srv/public", "/srv/public", true],
  ["/srv/public", "/srv/public/", true],
  ["/srv/public/", "/srv/public", true],
  ["/srv/public", "/srv/public/a", true],
  ["/srv/public/", "/srv/public/a/b", true],
  ["/srv/public", "/srv/public/..a", true],
  ["/srv/public", "/srv/public-x", false],
  ["/srv/public", "/srv/public-x/a", false],
  ["/srv/public", "/srv/publicx", false],
  ["/srv/public", "/srv/publi", false],
  ["/srv/public", "/srv", false],
  ["/srv/public", "/", false],
  ["/srv/public", "/etc/passwd", false],
  ["/srv/public", "/srv/public/../public-x", false],
  ["/srv/public", "/srv/public/a/../../public-x", false],
  ["/", "/etc/passwd", true],
  ["/", "/", true],
];

for (const [root, candidate, inside] of insideCases) {
  Deno.test(`isInside(${root}, ${candidate}) is ${inside}`, {
    ignore: Deno.build.os === "windows",
  }, () => {
    assert.equal(isInside(root, candidate), inside);
  });
}

// --- resolveForRead / checkWriteInside on a real tree ------------------------

interface Fixture {
  base: string;
  root: string;
}

/**
 * base/
 *   root/            ROOT
 *     file.txt, sub/inner.txt, and symlinks (see below)
 *   root-x/secret.txt  sibling whose name extends ROOT's
 *   outside/secret.txt, outside/back -> root/sub
 *   root-alias -> root
 */
async function withFixture(run: (fixture: Fixture) => Promise<void>): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "path_test_" }));
  try {
    const root = path.join(base, "root");
    const sibling = path.join(base, "root-x");
    const outside = path.join(base, "outside");
    await Deno.mkdir(path.join(root, "sub"), { recursive: true });
    await Deno.mkdir(sibling);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(path.join(root, "file.txt"), "inside");
    await Deno.writeTextFile(path.join(root, "sub", "inner.txt"), "inner");
    await Deno.writeTextFile(path.join(sibling, "secret.txt"), "sibling secret");
    await Deno.writeTextFile(path.join(outside, "secret.txt"), "outside secret");
    const links: [name: string, target: string][] = [
      ["link-inside", "file.txt"],
      ["link-inside-abs", path.join(root, "sub", "inner.txt")],
      ["link-outside", "../outside/secret.txt"],
      ["link-outside-abs", path.join(outside, "secret.txt")],
      ["link-sibling", "../root-x/secret.txt"],
      ["link-sibling-dir", "../root-x"],
      ["dir-link-inside", "sub"],
      ["dir-link-outside", "../outside"],
      ["link-to-root", "."],
      ["link-to-parent", ".."],
      ["dangling-inside", "missing.txt"],
      ["dangling-outside", "../outside/missing.txt"],
      ["dangling-dir", "../outside/missing-dir"],
      ["loop", "loop"],
    ];
    for (const [name, target] of links) await Deno.symlink(target, path.join(root, name));
    await Deno.symlink(path.join(root, "sub"), path.join(outside, "back"));
    await Deno.symlink("root", path.join(base, "root-alias"));
    await run({ base, root });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

const readable: [relative: string, realRelative: string][] = [
  ["", ""],
  ["file.txt", "file.txt"],
  ["sub", "sub"],
  ["sub/inner.txt", "sub/inner.txt"],
  ["link-inside", "file.txt"],
  ["link-inside-abs", "sub/inner.txt"],
  ["dir-link-inside/inner.txt", "sub/inner.txt"],
  ["link-to-root/file.txt", "file.txt"],
];

const unreadable: [relative: string, why: string][] = [
  ["missing.txt", "missing file"],
  ["missing-dir/x", "missing directory"],
  ["file.txt/x", "path through a file"],
  ["link-outside", "symlink to outside file"],
  ["link-outside-abs", "absolute symlink to outside file"],
  ["link-sibling", "symlink into sibling root-x"],
  ["link-sibling-dir/secret.txt", "symlinked dir into sibling root-x"],
  ["dir-link-outside/secret.txt", "symlinked parent dir pointing outside"],
  ["dir-link-outside", "symlinked dir pointing outside"],
  ["link-to-parent", "symlink to ROOT's parent"],
  ["link-to-parent/root-x/secret.txt", "via ROOT's parent into sibling"],
  ["dangling-inside", "dangling symlink"],
  ["dangling-outside", "dangling symlink to outside"],
  ["loop", "symlink loop"],
];

Deno.test("resolveForRead", async (t) => {
  await withFixture(async ({ base, root }) => {
    for (const [relative, realRelative] of readable) {
      await t.step(`returns the real path of ${relative || "ROOT"}`, async () => {
        const { real } = await resolveForRead(root, path.join(root, relative));
        assert.equal(real, path.join(root, realRelative));
      });
    }
    await t.step("accepts a path reached through an alias of ROOT", async () => {
      const { real } = await resolveForRead(root, path.join(base, "root-alias", "file.txt"));
      assert.equal(real, path.join(root, "file.txt"));
    });
    for (const [relative, why] of unreadable) {
      await t.step(`404 for ${why}`, async () => {
        await assertRejectsWith(resolveForRead(root, path.join(root, relative)), 404);
      });
    }
    await t.step("404 for the sibling directory root-x itself", async () => {
      await assertRejectsWith(resolveForRead(root, path.join(base, "root-x", "secret.txt")), 404);
    });
  });
});

const writable: [relative: string, why: string][] = [
  ["new.txt", "new file in ROOT"],
  ["file.txt", "existing file"],
  ["sub", "existing directory"],
  ["sub/new.txt", "new file in a subdirectory"],
  ["new-dir/deeper/new.txt", "missing ancestors inside ROOT"],
  ["link-inside", "symlink to a file inside"],
  ["dir-link-inside/new.txt", "symlinked parent pointing inside"],
  ["link-to-root/new.txt", "symlink to ROOT itself as parent"],
];

const unwritable: [relative: string, why: string][] = [
  ["", "ROOT itself (its parent is outside)"],
  ["link-outside", "symlink to an outside file"],
  ["link-outside-abs", "absolute symlink to an outside file"],
  ["link-sibling", "symlink into sibling root-x"],
  ["link-sibling-dir/new.txt", "symlinked parent into sibling root-x"],
  ["dir-link-outside/new.txt", "symlinked parent pointing outside"],
  ["dir-link-outside/secret.txt", "existing file under symlinked parent pointing outside"],
  ["dir-link-outside/missing/deeper.txt", "missing dirs under symlinked parent pointing outside"],
  ["dir-link-outside/back", "symlink back inside, but its parent is outside"],
  ["dir-link-outside", "symlinked dir pointing outside"],
  ["link-to-parent/new.txt", "symlink to ROOT's parent"],
  ["dangling-inside", "dangling symlink"],
  ["dangling-outside", "dangling symlink that would create an outside file"],
  ["dangling-dir/new.txt", "dangling symlinked parent"],
  ["dangling-dir/a/b.txt", "missing dirs under a dangling symlinked parent"],
  ["loop", "symlink loop"],
  ["loop/new.txt", "symlink loop as parent"],
  ["loop/a/new.txt", "missing dirs under a symlink loop"],
];

Deno.test("checkWriteInside", async (t) => {
  await withFixture(async ({ base, root }) => {
    for (const [relative, why] of writable) {
      await t.step(`allows ${why}`, () => {
        checkWriteInside(root, path.join(root, relative));
      });
    }
    await t.step("allows a path reached through an alias of ROOT", () => {
      checkWriteInside(root, path.join(base, "root-alias", "new.txt"));
    });
    for (const [relative, why] of unwritable) {
      await t.step(`403 for ${why}`, () => {
        assert.throws(() => checkWriteInside(root, path.join(root, relative)), isHttpError(403));
      });
    }
    await t.step("403 for the sibling directory root-x", () => {
      const sibling = path.join(base, "root-x", "new.txt");
      assert.throws(() => checkWriteInside(root, sibling), isHttpError(403));
    });
    await t.step("403 when ROOT does not exist", () => {
      const missingRoot = path.join(base, "no-root");
      assert.throws(
        () => checkWriteInside(missingRoot, path.join(missingRoot, "a")),
        isHttpError(403),
      );
    });
  });
});

Deno.test("decoded request paths map under ROOT end to end", async () => {
  await withFixture(async ({ root }) => {
    const { segments } = decodeUrlPath("/sub/%69nner.txt", "linux");
    const { real } = await resolveForRead(root, toFsPath(root, segments));
    assert.equal(await Deno.readTextFile(real), "inner");
    const literal = decodeUrlPath("/%252e%252e/secret.txt", "linux").segments;
    await assertRejectsWith(resolveForRead(root, toFsPath(root, literal)), 404);
  });
});
