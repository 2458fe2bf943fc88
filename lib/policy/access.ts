/**
 * Who may do what, where: the one decision every request passes through
 * ({@linkcode AccessPolicy.allows}), and {@linkcode Access}, which finds out
 * who sent a request and answers 401, 403 or 429 when the decision is no.
 *
 * Rules: each grants an audience (everyone, any signed-in user, or one named
 * user) a set of actions (`read`, `write`, `delete`) on a URL path prefix,
 * matched segment by segment (`/team` covers `/team/x`, never `/teamx`). For
 * each audience a principal belongs to, the rule with the longest prefix
 * covering the path applies (a rule granting nothing takes away what a
 * shorter one gave that audience); a principal may do what any of its
 * audiences may. So signing in never takes a right away: a user is also
 * "everyone". Nothing is allowed that no rule grants.
 *
 * Without rules (only `--auth`, `--auth-reads`), the server's old
 * behaviour is this same policy with two rules: everyone reads `/` (unless
 * `--auth-reads`), any signed-in user does everything on `/`. With neither
 * users nor rules there is no {@linkcode Access} at all: everything is
 * allowed and nothing is looked at.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request } from "../http/message.ts";
import type { BasicAuth } from "./auth.ts";
import { cidrContains, parseCidr } from "./ip_address.ts";
import type { Cidr } from "./ip_address.ts";

/** What a request does to a path: reading it, writing it, or taking it away. */
export type Action = "read" | "write" | "delete";

/** The actions, in the order their letters are written (`rwd`). */
export const ACTIONS: readonly Action[] = ["read", "write", "delete"];

/**
 * Who sent a request, as far as the rules are concerned: nobody known, a
 * user, or the holder of a share link (lib/policy/share_links.ts), whose
 * rights are the link's grant alone (see {@linkcode linkAllows}).
 */
export type Principal =
  | { readonly kind: "anonymous" }
  | { readonly kind: "user"; readonly name: string }
  | LinkPrincipal;

/** The holder of a share link: what the link grants, where. */
export interface LinkPrincipal {
  readonly kind: "link";
  /** `read`: read its path and all below; `upload`: create files directly in its folder. */
  readonly scope: "read" | "upload";
  /** The path it grants (decoded segments). */
  readonly path: readonly string[];
}

/** The principal of a request without credentials. */
export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

/** Whom a rule is for. */
export type Audience =
  | { readonly kind: "everyone" }
  | { readonly kind: "authenticated" }
  | { readonly kind: "user"; readonly name: string };

/** One rule: `audience` may take `actions` on `path` and below (and nothing else there). */
export interface AccessRule {
  /** Whom it is for. */
  readonly audience: Audience;
  /** The URL path prefix as decoded segments ([] is `/`). */
  readonly path: readonly string[];
  /** What they may do there; empty takes away what a shorter prefix granted. */
  readonly actions: readonly Action[];
}

/** How far an action reaches: the path alone, or the path and everything below it. */
export type Reach = "resource" | "tree";

const BITS: Record<Action, number> = { read: 1, write: 2, delete: 4 };
/** "No rule for this audience at this node": the prefix above still applies. */
const UNSET = -1;

/** The rules of one path prefix, by audience, as bit masks of actions. */
class PolicyNode {
  everyone = UNSET;
  authenticated = UNSET;
  users: Map<string, number> | null = null;
  readonly children = new Map<string, PolicyNode>();
}

/** The masks that apply at one point of a walk down the tree, per audience of one principal. */
interface Effective {
  everyone: number;
  authenticated: number;
  user: number;
}

/** Options of {@linkcode AccessPolicy}. */
export interface PolicyOptions {
  /**
   * Match path segments without regard to case (lowercase; NFC always): for a file
   * system that finds `/Team` when asked for `/team` (macOS, Windows), so
   * that a rule cannot be sidestepped by another spelling. Default false.
   */
  caseInsensitive?: boolean;
}

/**
 * Rules compiled into a tree of path segments: a decision walks the path's
 * segments once, so it costs a few map look-ups however many rules there are.
 */
export class AccessPolicy {
  readonly #root = new PolicyNode();
  readonly #fold: (segment: string) => string;
  /** The user names rules mention, for "could signing in help?". */
  readonly #namedUsers = new Set<string>();

  /** @param rules the rules; several for one audience and prefix add up */
  constructor(rules: readonly AccessRule[], options: PolicyOptions = {}) {
    // NFC either way: a rule for "café" must hold for the folder a Mac client named in NFD,
    // a name of its own on disk here, but the same to whoever wrote the rule.
    this.#fold = options.caseInsensitive
      ? (segment) => segment.normalize("NFC").toLowerCase()
      : (segment) => segment.normalize("NFC");
    for (const rule of rules) {
      let node = this.#root;
      for (const segment of rule.path) {
        const key = this.#fold(segment);
        let child = node.children.get(key);
        if (child === undefined) node.children.set(key, child = new PolicyNode());
        node = child;
      }
      const mask = rule.actions.reduce((bits, action) => bits | BITS[action], 0);
      const add = (current: number) => (current === UNSET ? 0 : current) | mask;
      switch (rule.audience.kind) {
        case "everyone":
          node.everyone = add(node.everyone);
          break;
        case "authenticated":
          node.authenticated = add(node.authenticated);
          break;
        case "user": {
          const name = rule.audience.name;
          node.users ??= new Map();
          node.users.set(name, add(node.users.get(name) ?? UNSET));
          this.#namedUsers.add(name);
          break;
        }
      }
    }
  }

  /**
   * THE decision: whether `principal` may take `action` on `path` (decoded
   * segments), and with `reach` "tree" on everything below it too (a DELETE
   * or MOVE of a folder, the source of a COPY, what a MOVE or COPY replaces).
   */
  allows(principal: Principal, action: Action, path: readonly string[], reach: Reach): boolean {
    if (principal.kind === "link") return linkAllows(principal, action, path, reach);
    const bit = BITS[action];
    const name = userNameOf(principal);
    const effective: Effective = { everyone: 0, authenticated: 0, user: 0 };
    let node: PolicyNode | undefined = this.#root;
    apply(node, effective, name);
    for (const segment of path) {
      node = node.children.get(this.#fold(segment));
      if (node === undefined) break;
      apply(node, effective, name);
    }
    if ((maskOf(principal, effective) & bit) === 0) return false;
    // Only rules below the path can say otherwise for its members.
    if (reach === "resource" || node === undefined || node.children.size === 0) return true;
    return allowsBelow(node, effective, principal, name, bit);
  }

  /**
   * Whether `principal` may read each member of the folder at `path`, as a
   * function of the member's path; null when they all share the folder's
   * answer (no rule below the folder), which spares a decision per member.
   */
  readFilter(
    principal: Principal,
    path: readonly string[],
  ): ((member: string[]) => boolean) | null {
    let node: PolicyNode | undefined = this.#root;
    for (const segment of path) {
      node = node.children.get(this.#fold(segment));
      if (node === undefined) return null;
    }
    if (node.children.size === 0) return null;
    return (member) => this.allows(principal, "read", member, "resource");
  }

  /** Whether some user, once signed in (`users`: those who can), may do it. */
  someUserAllows(
    users: readonly string[],
    action: Action,
    path: readonly string[],
    reach: Reach,
  ): boolean {
    // A user whom no rule names has the rights of every such user: one stands for them all.
    const unnamed = users.find((user) => !this.#namedUsers.has(user));
    const candidates = users.filter((user) => this.#namedUsers.has(user));
    if (unnamed !== undefined) candidates.push(unnamed);
    return candidates.some((name) => this.allows({ kind: "user", name }, action, path, reach));
  }
}

/**
 * What a share link allows, whatever the rules say (they were checked when
 * it was made, by whoever made it): a read link reads its path and every
 * path below it; an upload link writes (creates) a file directly in its
 * folder, and "reads" the folder itself, which shows its drop page and
 * nothing of what is there. Nothing else: no deletes, no trees, nothing
 * outside its path.
 */
export function linkAllows(
  link: LinkPrincipal,
  action: Action,
  path: readonly string[],
  reach: Reach,
): boolean {
  const base = link.path;
  if (path.length < base.length || !base.every((segment, i) => path[i] === segment)) return false;
  if (link.scope === "read") return action === "read";
  if (reach !== "resource") return false;
  if (action === "read") return path.length === base.length;
  return action === "write" && path.length === base.length + 1;
}

function userNameOf(principal: Principal): string | null {
  return principal.kind === "user" ? principal.name : null;
}

/** Updates `effective` with the rules of `node` for the audiences of the user `name` (or nobody). */
function apply(node: PolicyNode, effective: Effective, name: string | null): void {
  if (node.everyone !== UNSET) effective.everyone = node.everyone;
  if (node.authenticated !== UNSET) effective.authenticated = node.authenticated;
  if (name !== null && node.users !== null) {
    const mask = node.users.get(name);
    if (mask !== undefined) effective.user = mask;
  }
}

/** What `principal` may do given the masks of its audiences. */
function maskOf(principal: Principal, effective: Effective): number {
  switch (principal.kind) {
    case "anonymous":
      return effective.everyone;
    case "user":
      return effective.everyone | effective.authenticated | effective.user;
    case "link": // Decided by linkAllows, never by masks.
      return 0;
  }
}

/** Whether every rule below `node` (with `effective` inherited) still grants `bit`. */
function allowsBelow(
  node: PolicyNode,
  inherited: Effective,
  principal: Principal,
  name: string | null,
  bit: number,
): boolean {
  for (const child of node.children.values()) {
    const effective = { ...inherited };
    apply(child, effective, name);
    if ((maskOf(principal, effective) & bit) === 0) return false;
    if (!allowsBelow(child, effective, principal, name, bit)) return false;
  }
  return true;
}

/**
 * The rules that reproduce `--auth` without rules: everyone reads (unless
 * `protectReads`), any signed-in user does everything.
 */
export function legacyRules(protectReads: boolean): AccessRule[] {
  const rules: AccessRule[] = [
    { audience: { kind: "authenticated" }, path: [], actions: ACTIONS },
  ];
  if (!protectReads) rules.push({ audience: { kind: "everyone" }, path: [], actions: ["read"] });
  return rules;
}

/** Who sent a request, and why not someone else. */
interface Identity {
  principal: Principal;
  /** Credentials were sent and refused, or could not be checked for now. */
  failure: null | { kind: "refused" } | { kind: "throttled"; retryAfterMs: number };
}

const ANONYMOUS_IDENTITY: Identity = { principal: ANONYMOUS, failure: null };

/** `--auth-proxy-header` and `--trusted-proxy`. */
export interface ProxyAuthOptions {
  /** The request header that names the user, as a reverse proxy sets it. */
  header: string;
  /** The addresses (CIDR blocks) of the proxies whose header is believed. */
  trustedProxies: readonly string[];
}

/**
 * A user name set by a reverse proxy that did the login (forward_auth,
 * auth_request, oauth2-proxy): believed only from a trusted proxy's address,
 * since anyone else can send the header too.
 */
class ProxyAuth {
  readonly #header: string;
  readonly #trusted: Cidr[];
  readonly #onNotice: (message: string) => void;
  #warned = false;

  constructor(options: ProxyAuthOptions, onNotice: (message: string) => void) {
    this.#header = options.header.toLowerCase();
    this.#trusted = options.trustedProxies.map(parseCidr);
    this.#onNotice = onNotice;
  }

  /** Whether the request carries the header at all (believed or not). */
  isNamed(request: Request): boolean {
    return request.headers.has(this.#header);
  }

  /** The user the proxy names, or null: no header, an empty one, or not from a trusted proxy. */
  userOf(request: Request): string | null {
    const value = request.headers.get(this.#header)?.trim();
    if (value === undefined || value === "") return null;
    const peer = request.remoteAddr;
    if (peer === undefined || !this.#trusted.some((block) => cidrContains(block, peer))) {
      if (!this.#warned) {
        // Once: a client sending it on every request must not flood the log.
        this.#warned = true;
        this.#onNotice(
          `ignoring the ${this.#header} header from ${peer ?? "a local socket"}, which is not ` +
            "a --trusted-proxy address (said once; later ones are ignored silently)",
        );
      }
      return null;
    }
    return value.normalize("NFC");
  }
}

/** Options of {@linkcode Access}. */
export interface AccessOptions {
  /** The rules. */
  policy: AccessPolicy;
  /** The users of `--auth`, or null when there are none. */
  basic: BasicAuth | null;
  /** The user-name header of a trusted reverse proxy, or null. */
  proxy?: ProxyAuthOptions | null;
  /** Where the proxy's notice (a header from an untrusted address) goes; default stderr. */
  onNotice?: (message: string) => void;
  /**
   * Where a path really leads in the store (a symlink's target, as decoded
   * segments), or null when there is nowhere else: the rules hold there too,
   * or a link in a readable folder would open a folder they close. Absent
   * for a store without links.
   */
  realPathOf?: ((path: readonly string[]) => readonly string[] | null) | null;
}

/**
 * Finds out who sent a request (once per request) and enforces
 * {@linkcode AccessPolicy.allows} for it. A refusal is 401 with the Basic
 * challenge when the request is anonymous and signing in could help, 429
 * when credentials were sent but the client's allowance of password checks
 * is used up, else 403. The answer never depends on whether the path exists:
 * nothing is looked up before the decision.
 */
export class Access {
  readonly #policy: AccessPolicy;
  readonly #basic: BasicAuth | null;
  readonly #proxy: ProxyAuth | null;
  readonly #realPathOf: ((path: readonly string[]) => readonly string[] | null) | null;
  readonly #identities = new WeakMap<Request, Promise<Identity>>();

  /** @param options the rules, the users and the proxy; throws for a bad CIDR block */
  constructor(options: AccessOptions) {
    this.#policy = options.policy;
    this.#basic = options.basic;
    const onNotice = options.onNotice ?? ((message) => console.error(`filedrop: ${message}`));
    this.#proxy = options.proxy ? new ProxyAuth(options.proxy, onNotice) : null;
    this.#realPathOf = options.realPathOf ?? null;
  }

  /** The decision at `path` and, when it leads elsewhere (a symlink), there too. */
  #allowsThere(principal: Principal, action: Action, path: readonly string[], reach: Reach) {
    if (!this.#policy.allows(principal, action, path, reach)) return false;
    const real = this.#realPathOf?.(path) ?? null;
    return real === null || this.#policy.allows(principal, action, real, reach);
  }

  /**
   * Who sent `request`: the user a trusted proxy names, else a user whose
   * Basic credentials verified, else anonymous.
   * Sets {@linkcode Request.user} for the access log and the lock owner.
   */
  principalOf(request: Request): Promise<Principal> {
    const identity = this.#identify(request);
    return identity instanceof Promise
      ? identity.then((known) => known.principal)
      : Promise.resolve(identity.principal);
  }

  /**
   * Throws the refusal (401, 403 or 429) unless the request's principal may
   * take `action` on `path` (with `reach` "tree": on all below it too).
   */
  async authorize(
    request: Request,
    action: Action,
    path: readonly string[],
    reach: Reach = "resource",
  ): Promise<void> {
    const identity = await this.#identify(request);
    if (this.#allowsThere(identity.principal, action, path, reach)) return;
    if (identity.principal.kind !== "anonymous") throw new HttpError(403, "Forbidden");
    if (identity.failure?.kind === "throttled") {
      const seconds = Math.max(1, Math.ceil(identity.failure.retryAfterMs / 1000));
      throw new HttpError(429, "Too many failed logins; try again later", {
        "Retry-After": String(seconds),
      });
    }
    const basic = this.#basic;
    if (basic !== null && this.#policy.someUserAllows(basic.users, action, path, reach)) {
      // One message for a missing header, a bad one, an unknown user and a wrong password.
      throw new HttpError(401, "Authentication required", { "WWW-Authenticate": basic.challenge });
    }
    throw new HttpError(403, "Forbidden");
  }

  /** Whether the request's principal may take `action` on `path` (no refusal thrown). */
  async allows(request: Request, action: Action, path: readonly string[]): Promise<boolean> {
    const identity = await this.#identify(request);
    return this.#allowsThere(identity.principal, action, path, "resource");
  }

  /**
   * Whether the page should offer `action` on `path`: the principal may take
   * it, or is anonymous and signing in could let it (the browser asks for a
   * password when the request gets its 401).
   */
  async offers(request: Request, action: Action, path: readonly string[]): Promise<boolean> {
    const identity = await this.#identify(request);
    if (this.#policy.allows(identity.principal, action, path, "resource")) return true;
    return identity.principal.kind === "anonymous" && this.#basic !== null &&
      this.#policy.someUserAllows(this.#basic.users, action, path, "resource");
  }

  /**
   * {@linkcode AccessPolicy.readFilter} for the request's principal; in a
   * store with links, never null: each member is judged where it leads too.
   */
  async readFilter(
    request: Request,
    path: readonly string[],
  ): Promise<((member: string[]) => boolean) | null> {
    const principal = await this.principalOf(request);
    const filter = this.#policy.readFilter(principal, path);
    if (this.#realPathOf === null) return filter;
    return (member) =>
      (filter === null || filter(member)) &&
      this.#allowsThere(principal, "read", member, "resource");
  }

  /**
   * Who sent the request: at once for a request without credentials (most
   * of them, and the cheapest path), else checked once and remembered.
   */
  #identify(request: Request): Identity | Promise<Identity> {
    if (!request.headers.has("authorization") && !this.#proxy?.isNamed(request)) {
      return ANONYMOUS_IDENTITY;
    }
    let identity = this.#identities.get(request);
    if (identity === undefined) {
      identity = this.#establish(request);
      this.#identities.set(request, identity);
    }
    return identity;
  }

  async #establish(request: Request): Promise<Identity> {
    const proxied = this.#proxy?.userOf(request) ?? null;
    if (proxied !== null) {
      request.user = proxied;
      return { principal: { kind: "user", name: proxied }, failure: null };
    }
    if (this.#basic === null || !request.headers.has("authorization")) return ANONYMOUS_IDENTITY;
    const verdict = await this.#basic.authenticate(request);
    switch (verdict.kind) {
      case "accepted":
        request.user = verdict.user;
        return { principal: { kind: "user", name: verdict.user }, failure: null };
      case "absent":
        return ANONYMOUS_IDENTITY;
      case "refused":
        return { principal: ANONYMOUS, failure: { kind: "refused" } };
      case "throttled":
        return { principal: ANONYMOUS, failure: verdict };
    }
  }
}

/** One thing a request needs to be allowed. */
export interface Need {
  /** The action. */
  action: Action;
  /** Where. */
  path: readonly string[];
  /** Whether everything below `path` is concerned too. */
  reach: Reach;
}

/**
 * What a request with `method` on `path` needs, a MOVE's or COPY's
 * destination aside (which needs `write` over its tree): reads
 * (GET, HEAD, PROPFIND; a listing, an archive, a search) need `read`; OPTIONS
 * nothing (CORS preflights carry no credentials, and the answer shows
 * nothing of an unreadable path); DELETE `delete` of the tree; MOVE `read`
 * and `delete` of the tree it takes away; COPY `read` of the tree it copies;
 * LOCK `write` of the tree unless its `lockDepth` is "0" (a lock of a tree
 * bars everyone else's writes in all of it); every other method (PUT, POST
 * forms, resumable uploads, MKCOL, PROPPATCH, UNLOCK, and any the router will
 * refuse anyway) `write`.
 */
export function needsOf(
  method: string,
  path: readonly string[],
  lockDepth: "0" | "infinity" = "infinity",
): Need[] {
  switch (method) {
    case "GET":
    case "HEAD":
    case "PROPFIND":
      return [{ action: "read", path, reach: "resource" }];
    case "OPTIONS":
      return [];
    case "DELETE":
      return [{ action: "delete", path, reach: "tree" }];
    case "MOVE":
      return [{ action: "read", path, reach: "tree" }, { action: "delete", path, reach: "tree" }];
    case "COPY":
      return [{ action: "read", path, reach: "tree" }];
    case "LOCK":
      return [{ action: "write", path, reach: lockDepth === "0" ? "resource" : "tree" }];
    default:
      return [{ action: "write", path, reach: "resource" }];
  }
}
