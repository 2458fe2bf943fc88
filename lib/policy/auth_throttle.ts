/**
 * Per-client limits on password guessing for `--auth`.
 *
 * Each PBKDF2 check of a password costs the server tens of milliseconds of
 * CPU (about 80 ms at the default 600,000 iterations), so an unlimited
 * guesser both searches the password space and keeps the CPU busy.
 * {@linkcode AuthThrottle} gives every client address an allowance of
 * password checks: a burst (default 10) that refills slowly (default one
 * check every 30 s). `BasicAuth` (lib/policy/auth.ts) takes one check from the allowance
 * before it hashes a password it has not seen succeed, and gives it back when
 * the password turns out right, so only failures use the allowance up. Once
 * it is used up, such requests get 429 with `Retry-After` and no hashing.
 *
 * What is never throttled, and why that is safe:
 * - A request without credentials, or with a malformed `Authorization`, gets
 *   its 401 at no hashing cost, so it takes nothing from the allowance.
 * - A credential that already succeeded is recognised by its HMAC in
 *   `BasicAuth`'s verified-credentials cache (no PBKDF2), before the throttle
 *   is consulted: a user who has logged in is never delayed, even from an
 *   address a guesser has exhausted (a shared NAT, a proxy). Guessing cannot
 *   fill that cache, since only successes enter it.
 * - Concurrent requests with the same `Authorization` value share one check
 *   and take one unit from the allowance, so a browser sending many uploads
 *   at once right after login is not throttled by its own parallelism.
 *
 * What a guesser can still cause: a user who has not logged in since the
 * server started and shares an exhausted address with the guesser waits for
 * `Retry-After` like the guesser does; no server can tell a right password
 * from a wrong one without hashing it. Other addresses are unaffected.
 *
 * Addresses: an IPv4 client is its address; an IPv6 client is its /64, the
 * block one host or site usually gets, so that rotating through the 2^64
 * addresses of one's own network buys nothing; an IPv4 client seen through a
 * dual-stack socket (`::ffff:a.b.c.d`) is its IPv4 address, not the /64 that
 * every IPv4 client shares. Requests without a known address (a Unix socket)
 * share one allowance. Behind a reverse proxy every client has the proxy's
 * address: failures there share one allowance (`X-Forwarded-For` is not
 * trusted, as any client can send it).
 *
 * Memory: at most {@linkcode AuthThrottleOptions.maxClients} addresses are
 * tracked (default 10,000), each as one number; a new address beyond that
 * evicts the one used least recently, so spraying source addresses cannot
 * grow memory. An address whose allowance is whole again is forgotten.
 *
 * @module
 */

import { ipv6Groups } from "./ip_address.ts";

/** Options of {@linkcode AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Password checks an address may fail in a row before it must wait; default 10. */
  burst?: number;
  /** Milliseconds for one check of the allowance to come back; default 30,000. */
  refillMs?: number;
  /** The most addresses tracked at once; default 10,000. */
  maxClients?: number;
  /** The clock, in milliseconds; default `performance.now` (monotonic: wall-clock jumps do not matter). */
  now?: () => number;
}

/** Defaults of {@linkcode AuthThrottleOptions}. */
const DEFAULT_BURST = 10;
const DEFAULT_REFILL_MS = 30_000;
const DEFAULT_MAX_CLIENTS = 10_000;
/** The key of requests whose client address is unknown. */
const UNKNOWN_CLIENT = "-";

/**
 * A token bucket per client address, bounded in memory. See the module
 * documentation for what it protects and how `BasicAuth` uses it.
 *
 * @example
 * ```ts
 * const throttle = new AuthThrottle({ burst: 5, refillMs: 60_000 });
 * const waitMs = throttle.take("203.0.113.7");
 * if (waitMs > 0) console.log(`429, Retry-After: ${Math.ceil(waitMs / 1000)}`);
 * else if (await passwordIsRight()) throttle.refund("203.0.113.7");
 * ```
 */
export class AuthThrottle {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  /**
   * Client key → when its bucket is full again (the "theoretical arrival
   * time" of the generic cell rate algorithm): one number per client instead
   * of a count and a timestamp. Map order is least recently used first.
   */
  readonly #fullAt = new Map<string, number>();

  /** @param options allowance, refill rate, memory bound and clock */
  constructor(options: AuthThrottleOptions = {}) {
    this.#burst = options.burst ?? DEFAULT_BURST;
    this.#refillMs = options.refillMs ?? DEFAULT_REFILL_MS;
    this.#maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isInteger(this.#burst) || this.#burst < 1) {
      throw new RangeError("AuthThrottle: burst must be a positive integer");
    }
    if (!(this.#refillMs > 0) || !Number.isFinite(this.#refillMs)) {
      throw new RangeError("AuthThrottle: refillMs must be a positive number");
    }
    if (!Number.isInteger(this.#maxClients) || this.#maxClients < 1) {
      throw new RangeError("AuthThrottle: maxClients must be a positive integer");
    }
  }

  /**
   * Takes one password check from the allowance of `address` (the client's
   * IP address; undefined when unknown). Returns 0 when it was granted, or
   * else how many milliseconds remain until one will be (nothing is taken).
   */
  take(address: string | undefined): number {
    const key = clientKey(address);
    const now = this.#now();
    const fullAt = Math.max(this.#fullAt.get(key) ?? now, now);
    // An empty bucket is full again burst × refill after "now": a check is free when less is owed.
    const waitMs = fullAt - (this.#burst - 1) * this.#refillMs - now;
    if (waitMs > 0) {
      this.#touch(key, fullAt);
      return waitMs;
    }
    this.#touch(key, fullAt + this.#refillMs);
    return 0;
  }

  /** Gives back a check that {@linkcode AuthThrottle.take} granted, for a password that was right. */
  refund(address: string | undefined): void {
    const key = clientKey(address);
    const fullAt = this.#fullAt.get(key);
    if (fullAt === undefined) return; // Evicted meanwhile: it is already forgiven.
    const refunded = fullAt - this.#refillMs;
    if (refunded <= this.#now()) this.#fullAt.delete(key); // Full: the same as never seen.
    else this.#touch(key, refunded);
  }

  /** How many client addresses (or /64s) are tracked now. */
  get size(): number {
    return this.#fullAt.size;
  }

  /** Records `key` as the most recently used, evicting the least recently used past the bound. */
  #touch(key: string, fullAt: number): void {
    this.#fullAt.delete(key);
    this.#fullAt.set(key, fullAt);
    if (this.#fullAt.size > this.#maxClients) {
      // The oldest entry is the likeliest to have refilled already; dropping it forgives it early.
      this.#fullAt.delete(this.#fullAt.keys().next().value!);
    }
  }
}

/**
 * The bucket of a client address: IPv4 as is, IPv4-mapped IPv6 as its IPv4
 * address, other IPv6 by its /64 prefix. An address that does not parse is
 * its own key.
 */
function clientKey(address: string | undefined): string {
  if (address === undefined || address === "") return UNKNOWN_CLIENT;
  if (!address.includes(":")) return address;
  const zone = address.indexOf("%");
  const text = (zone === -1 ? address : address.slice(0, zone)).toLowerCase();
  const groups = ipv6Groups(text);
  if (groups === null) return text;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(":")}::/64`;
}
