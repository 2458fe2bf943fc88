import assert from "node:assert/strict";
import { KNOWN_METHODS } from "../lib/handlers/router.ts";
import {
  importShareKey,
  linkPermits,
  newShareId,
  signShareToken,
  verifyShareToken,
} from "../lib/policy/share_token.ts";
import type { ShareGrant } from "../lib/policy/share_token.ts";

const secret = new TextEncoder().encode("a test secret of enough bytes");
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const grant: ShareGrant = {
  scope: "upload",
  id: "0123456789abcdef",
  path: ["inbox", "für Bob"],
  expiresAt: NOW + 7 * 86_400_000,
  maxBytes: 5 * 2 ** 30,
};

/** The token's bytes, for tampering. */
function decode(token: string): Uint8Array {
  return Uint8Array.fromBase64(token, { alphabet: "base64url" });
}
function encode(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

Deno.test("a signed grant verifies back to itself; the token is URL-safe and versioned", async () => {
  const key = await importShareKey(secret);
  const token = await signShareToken(key, grant);
  assert.match(token, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decode(token)[0], 1);
  assert.deepEqual(await verifyShareToken(key, token, NOW), grant);
  const read = { ...grant, scope: "read" as const, path: [], maxBytes: null };
  assert.deepEqual(await verifyShareToken(key, await signShareToken(key, read), NOW), read);
  // Compact: 54 bytes plus the path, in base64.
  assert.deepEqual(token.length, Math.ceil((54 + "inbox/für Bob".length + 1) * 4 / 3));
});

Deno.test("tampering with any byte of a token, or another secret, makes it forged", async () => {
  const key = await importShareKey(secret);
  const token = await signShareToken(key, grant);
  const bytes = decode(token);
  // Every byte but the version (a changed version is malformed before any MAC).
  for (let i = 1; i < bytes.length; i++) {
    const copy = bytes.slice();
    copy[i] ^= 0x01;
    assert.deepEqual(await verifyShareToken(key, encode(copy), NOW), "forged", `byte ${i}`);
  }
  // A longer path (the classic extension of a prefix) and a cut MAC.
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes.subarray(0, 22 + 5));
  longer.set(new TextEncoder().encode("x"), 27);
  longer.set(bytes.subarray(27), 28);
  assert.deepEqual(await verifyShareToken(key, encode(longer), NOW), "forged");
  assert.deepEqual(await verifyShareToken(key, encode(bytes.subarray(0, -1)), NOW), "forged");
  const other = await importShareKey(new TextEncoder().encode("another secret, just as long"));
  assert.deepEqual(await verifyShareToken(other, token, NOW), "forged");
});

Deno.test("an expired token is refused from its expiry on, and a revoked one always", async () => {
  const key = await importShareKey(secret);
  const token = await signShareToken(key, grant);
  assert.notEqual(await verifyShareToken(key, token, grant.expiresAt - 1), "expired");
  assert.deepEqual(await verifyShareToken(key, token, grant.expiresAt), "expired");
  assert.deepEqual(
    await verifyShareToken(key, token, NOW, (id) => id === "0123456789abcdef"),
    "revoked",
  );
  assert.notEqual(
    await verifyShareToken(key, token, NOW, (id) => id === "fedcba9876543210"),
    "revoked",
  );
});

Deno.test("malformed tokens are refused without an exception", async () => {
  const key = await importShareKey(secret);
  const token = await signShareToken(key, grant);
  const bytes = decode(token);
  const v2 = bytes.slice();
  v2[0] = 2;
  for (
    const bad of [
      "",
      "a",
      token + "=",
      token.slice(0, 10) + " " + token.slice(10),
      token.slice(0, 10) + "+" + token.slice(11),
      token.slice(0, -1) + (token.at(-1) === "A" ? "B" : "A"), // a spare bit set, or forged
      encode(v2),
      encode(bytes.subarray(0, 40)),
      "A".repeat(10_000),
    ]
  ) {
    const verdict = await verifyShareToken(key, bad, NOW);
    assert(verdict === "malformed" || verdict === "forged", `${bad.slice(0, 20)}: ${verdict}`);
  }
  assert.deepEqual(await verifyShareToken(key, encode(v2), NOW), "malformed");
  assert.deepEqual(await verifyShareToken(key, token + "=", NOW), "malformed");
});

Deno.test("a signed token with a bad path or scope is malformed all the same", async () => {
  const key = await importShareKey(secret);
  // Signed bytes that no signShareToken would write: a ".." path, an unknown scope.
  for (const patch of [{ at: 1, value: 7 }, { at: 22, value: 0x2e, path: ".." }]) {
    const body = new Uint8Array(22 + 2);
    body[0] = 1;
    body[1] = 2;
    new DataView(body.buffer).setUint32(10, NOW / 1000 + 60);
    body.set(new TextEncoder().encode("ok"), 22);
    if (patch.path !== undefined) body.set(new TextEncoder().encode(patch.path), 22);
    else body[patch.at] = patch.value;
    const input = new Uint8Array([...new TextEncoder().encode("filedrop share link\0"), ...body]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, input));
    assert.deepEqual(
      await verifyShareToken(key, encode(new Uint8Array([...body, ...mac])), NOW),
      "malformed",
    );
  }
});

Deno.test("signing refuses grants a token cannot carry", async () => {
  const key = await importShareKey(secret);
  for (
    const bad of [
      { ...grant, id: "xyz" },
      { ...grant, expiresAt: NOW + 0.5 },
      { ...grant, maxBytes: 0 },
      { ...grant, path: [".."] },
      { ...grant, path: ["a/b"] },
      { ...grant, path: [".filedrop-tmp-state"] },
      { ...grant, path: ["x".repeat(255), ..."y".repeat(10).split("").map(() => "x".repeat(250))] },
    ]
  ) {
    await assert.rejects(() => signShareToken(key, bad), RangeError);
  }
  await assert.rejects(() => importShareKey(new Uint8Array(15)), RangeError);
});

Deno.test("link ids are 16 random hex digits", () => {
  const ids = new Set(Array.from({ length: 100 }, newShareId));
  assert.deepEqual(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
});

Deno.test("what each scope permits, by method and by depth below the link's path", () => {
  // Every method the server knows but CONNECT and TRACE, which fetch cannot send.
  const methods = [...KNOWN_METHODS].filter((method) => method !== "CONNECT" && method !== "TRACE");
  const expected: Record<string, Record<string, [boolean, boolean, boolean]>> = {
    // [the link's path itself, one name below, two names below]
    read: { GET: [true, true, true], HEAD: [true, true, true], OPTIONS: [true, true, true] },
    upload: {
      GET: [true, false, false],
      HEAD: [true, false, false],
      OPTIONS: [true, true, true],
      PUT: [false, true, false],
    },
  };
  for (const scope of ["read", "upload"] as const) {
    for (const method of methods) {
      const want = expected[scope][method] ?? [false, false, false];
      const got = [[], ["a"], ["a", "b"]].map((rest) => linkPermits(scope, { method, rest }));
      assert.deepEqual(got, want, `${scope} ${method}`);
    }
  }
});

Deno.test("the access decision for a link's holder: its grant, by action, depth and reach", async () => {
  const { AccessPolicy } = await import("../lib/policy/access.ts");
  const policy = new AccessPolicy([]);
  const base = ["team", "in"];
  const paths = [[], ["team"], base, [...base, "a"], [...base, "a", "b"], ["team", "other"]];
  // For each path above: [read, write, delete] with reach "resource", then read with "tree".
  const expected = {
    read: ["----", "----", "r--t", "r--t", "r--t", "----"],
    upload: ["----", "----", "r---", "-w--", "----", "----"],
  };
  for (const scope of ["read", "upload"] as const) {
    const principal = { kind: "link" as const, scope, path: base };
    const got = paths.map((path) =>
      [
        policy.allows(principal, "read", path, "resource") ? "r" : "-",
        policy.allows(principal, "write", path, "resource") ? "w" : "-",
        policy.allows(principal, "delete", path, "resource") ? "d" : "-",
        policy.allows(principal, "read", path, "tree") ? "t" : "-",
      ].join("")
    );
    assert.deepEqual(got, expected[scope], scope);
  }
});
