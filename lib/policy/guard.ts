/**
 * Defences against hostile web pages in the user's own browser: DNS rebinding
 * (a page whose name resolves to 127.0.0.1 reading and writing a loopback
 * server as if same-origin) and cross-site request forgery (a page on another
 * origin sending writes, with whatever credentials the browser holds).
 *
 * @module
 */

import type { Handler } from "../server/connection.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";

/** Options of {@linkcode withGuard}. */
export interface GuardOptions {
  /** The server is bound to a loopback address: only loopback Host names are answered. */
  loopbackOnly: boolean;
  /** `--cors`: any origin may write, so the cross-origin write check is off. */
  cors: boolean;
}

/** A canonical dotted-decimal octet: 0-255 without leading zeros. */
const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const LOOPBACK_IPV4 = new RegExp(`^127(?:\\.${OCTET}){3}$`);
const LOCALHOST_NAME = /^(?:[a-z0-9_-]+\.)*localhost$/;
const ABSOLUTE_AUTHORITY = /^https?:\/\/([^/?]*)/i;

/**
 * Whether a hostname is a loopback name or address: `localhost`, a name under
 * `.localhost` (RFC 6761; browsers resolve these to loopback themselves),
 * 127.0.0.0/8 in canonical dotted-decimal, or `::1` (brackets optional).
 * Case-insensitive. Anything else is not, including forms that some
 * resolvers would map to loopback (`127.1`, `0x7f.0.0.1`, `localhost.`,
 * `[::ffff:127.0.0.1]`, `[0:0:0:0:0:0:0:1]`): browsers always send the
 * canonical form, so refusing the others costs nothing and fails closed.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return LOCALHOST_NAME.test(name) || LOOPBACK_IPV4.test(name) || name === "[::1]" ||
    name === "::1";
}

/**
 * Whether a `Host` value or absolute-form authority (`host[:port]`, any port)
 * names a loopback host per {@linkcode isLoopbackHost}. False for anything
 * malformed.
 */
export function isLoopbackAuthority(authority: string): boolean {
  let host: string;
  let port: string;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close === -1) return false;
    host = authority.slice(0, close + 1);
    port = authority.slice(close + 1);
  } else {
    const colon = authority.indexOf(":");
    host = colon === -1 ? authority : authority.slice(0, colon);
    port = colon === -1 ? "" : authority.slice(colon);
  }
  return (port === "" || /^:[0-9]*$/.test(port)) && isLoopbackHost(host);
}

/**
 * Whether binding `hostname` exposes the server beyond this machine (not
 * loopback). Pass the address as the listener reports it
 * (`listener.addr.hostname`): Deno canonicalizes `localhost`, `127.1` or
 * `0:0:0:0:0:0:0:1` there, and a non-canonical form given here counts as public.
 */
export function isPublicBind(hostname: string): boolean {
  const bare = hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
  // A socket bound to an IPv4-mapped loopback address only accepts loopback peers.
  const mapped = /^::ffff:(.*)$/i.exec(bare);
  return !isLoopbackHost(mapped === null ? bare : mapped[1]);
}

/**
 * Whether an `Origin` value is the origin of a request to `authority` (the
 * Host value). The request does not say whether it came over TLS, so both
 * `http://` and `https://` are accepted. That is safe enough because the host
 * and port must match exactly: a page with origin `https://H` that sends to
 * `H` is served from that very host and port (one port speaks one protocol,
 * so it is this server or a TLS proxy in front of it); only with no port in
 * H could the page be on 443 while we are on 80, and browsers block an https
 * page's scripts from sending to plain http (mixed content).
 */
export function isSameOrigin(origin: string, authority: string): boolean {
  if (authority === "") return false;
  const given = origin.toLowerCase();
  const own = authority.toLowerCase();
  return given === `http://${own}` || given === `https://${own}`;
}

/** The authority named by an absolute-form or authority-form target, else null. */
function targetAuthority(request: Request): string | null {
  if (request.targetForm === "authority") return request.target;
  if (request.targetForm !== "absolute") return null;
  return ABSOLUTE_AUTHORITY.exec(request.target)?.[1] ?? null;
}

function isWrite(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

/** Whether the browser says this request comes from another origin. */
function isForeign(request: Request, authority: string | undefined): boolean {
  const origin = request.headers.get("origin");
  if (origin !== undefined) return authority === undefined || !isSameOrigin(origin, authority);
  // Browsers send Origin with every write; Sec-Fetch-Site is a second opinion
  // for any that do not. "same-site" is still another origin (a sibling
  // subdomain, another port), so it is refused too.
  const site = request.headers.get("sec-fetch-site");
  return site === "cross-site" || site === "same-site";
}

/**
 * Wraps a handler with browser-facing defences, checked before the handler
 * runs (so no body is read):
 *
 * - DNS rebinding: when `loopbackOnly`, a request whose authority (the
 *   absolute-form target's, which overrides Host, else Host) is not a
 *   loopback name or address (see {@linkcode isLoopbackAuthority}) is
 *   misdirected: 421 (RFC 9110 §15.5.20). A request without Host (HTTP/1.0)
 *   or with an empty one (RFC 9112 §3.2: a target without an authority)
 *   passes as naming this server: browsers always send a non-empty Host, so
 *   neither can carry a rebinding attack.
 * - CSRF: unless `cors`, a write (any method but GET, HEAD and OPTIONS) whose
 *   Origin is present and is not the request's own origin (see
 *   {@linkcode isSameOrigin}) gets 403; `Origin: null` is foreign. Without
 *   Origin, `Sec-Fetch-Site: cross-site` or `same-site` counts as foreign.
 */
export function withGuard(handler: Handler, options: GuardOptions): Handler {
  // Not an async layer: a frame and a promise for every request (measured); a refusal still rejects.
  return (request: Request): Promise<Response> => {
    const refusal = guardRefusal(request, options);
    return refusal === null ? handler(request) : Promise.reject(refusal);
  };
}

/** Why the guard refuses `request`, or null to let it through. */
function guardRefusal(request: Request, options: GuardOptions): HttpError | null {
  // RFC 9112 §3.2.2: an absolute-form target's authority overrides Host.
  const authority = targetAuthority(request) ?? request.headers.get("host");
  if (
    options.loopbackOnly && authority !== undefined && authority !== "" &&
    !isLoopbackAuthority(authority)
  ) {
    return new HttpError(
      421,
      "Host not allowed: this server only answers to localhost names (DNS rebinding protection)",
    );
  }
  if (!options.cors && isWrite(request.method) && isForeign(request, authority)) {
    return new HttpError(403, "Cross-origin write refused");
  }
  return null;
}
