/**
 * IP addresses and CIDR blocks in text form, parsed strictly: the client
 * keys of the auth throttle and the `--trusted-proxy` blocks.
 *
 * @module
 */

const HEX_GROUP = /^[0-9a-f]{1,4}$/;
const DOTTED_QUAD =
  /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** The four octets of a dotted-quad IPv4 address (no leading zeros); null when it is not one. */
export function ipv4Octets(text: string): number[] | null {
  const quad = DOTTED_QUAD.exec(text);
  if (quad === null) return null;
  const octets = quad.slice(1).map(Number);
  return octets.some((octet) => octet > 255) ? null : octets;
}

/** The eight 16-bit groups of an IPv6 address in text form (lowercase, no zone); null when it is not one. */
export function ipv6Groups(text: string): number[] | null {
  let rest = text;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon === -1) return null;
  const tail = rest.slice(lastColon + 1);
  if (tail.includes(".")) {
    // An embedded IPv4 address (::ffff:192.0.2.1) is the last two groups.
    const octets = ipv4Octets(tail);
    if (octets === null) return null;
    const high = (octets[0] << 8) | octets[1];
    const low = (octets[2] << 8) | octets[3];
    rest = `${rest.slice(0, lastColon + 1)}${high.toString(16)}:${low.toString(16)}`;
  }
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const split = (half: string) => half === "" ? [] : half.split(":");
  const head = split(halves[0]);
  const after = halves.length === 2 ? split(halves[1]) : [];
  const present = head.length + after.length;
  if (halves.length === 1 ? present !== 8 : present > 7) return null;
  if (![...head, ...after].every((group) => HEX_GROUP.test(group))) return null;
  const zeros: string[] = Array(8 - present).fill("0");
  return [...head, ...zeros, ...after].map((group) => parseInt(group, 16));
}

/**
 * An address as 16 bytes (IPv6; IPv4 as its IPv4-mapped form `::ffff:a.b.c.d`,
 * so a client of a dual-stack socket matches the IPv4 blocks); null when the
 * text is neither. A zone (`%eth0`) is ignored; brackets are not accepted.
 */
export function addressBytes(text: string): Uint8Array | null {
  const v4 = ipv4Octets(text);
  if (v4 !== null) return new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  const zone = text.indexOf("%");
  const groups = ipv6Groups((zone === -1 ? text : text.slice(0, zone)).toLowerCase());
  if (groups === null) return null;
  return new Uint8Array(groups.flatMap((group) => [group >> 8, group & 0xff]));
}

/** A block of addresses: the first `bits` bits of `prefix` (both in the 16-byte form). */
export interface Cidr {
  readonly prefix: Uint8Array;
  readonly bits: number;
}

/**
 * Parses `a.b.c.d/n` (n 0-32), an IPv6 `x::/n` (n 0-128), or a bare address
 * (a block of one). Bits set past the prefix length (`10.0.0.1/8`) are an
 * error: they usually mean a typo. Throws an Error that quotes the text.
 */
export function parseCidr(text: string): Cidr {
  const bad = (why: string) => new Error(`${JSON.stringify(text)} is not ${why}`);
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const lengthText = slash === -1 ? null : text.slice(slash + 1);
  const v4 = ipv4Octets(addressText) !== null;
  const prefix = addressText.includes("%") ? null : addressBytes(addressText);
  if (prefix === null) throw bad("an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8)");
  const max = v4 ? 32 : 128;
  if (lengthText !== null && !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) {
    throw bad(`a CIDR block: the prefix length must be a number from 0 to ${max}`);
  }
  const length = lengthText === null ? max : Number(lengthText);
  if (length > max) throw bad(`a CIDR block: the prefix length must be from 0 to ${max}`);
  // An IPv4 block is a block of the IPv4-mapped range.
  const bits = v4 ? 96 + length : length;
  for (let bit = bits; bit < 128; bit++) {
    if ((prefix[bit >> 3] >> (7 - (bit & 7))) & 1) {
      throw bad(`a CIDR block: bits are set past the prefix length /${length}`);
    }
  }
  return { prefix, bits };
}

/** Whether the address `text` (as the socket reports it) lies in `block`; false when it is no address. */
export function cidrContains(block: Cidr, text: string): boolean {
  const address = addressBytes(text);
  if (address === null) return false;
  const whole = block.bits >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== block.prefix[i]) return false;
  const rest = block.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole] & mask) === block.prefix[whole];
}
