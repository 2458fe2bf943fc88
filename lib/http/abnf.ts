/**
 * The RFC 9110 / RFC 9112 grammar as byte-class tables, in one place.
 *
 * Each table is a 256-entry lookup: `TABLE[byte] === 1` when the byte belongs
 * to the class. Lookups are cheaper than regular expressions on the hot path
 * and work on raw bytes, so nothing is decoded before it is validated.
 *
 * @module
 */

function byteClass(predicate: (byte: number) => boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = predicate(byte) ? 1 : 0;
  return table;
}

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/** `tchar` (RFC 9110 §5.6.2): the characters of a token such as a method or field name. */
export const TCHAR: Uint8Array = byteClass((b) =>
  isDigit(b) || isAlpha(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b))
);

/**
 * Bytes allowed in a field value (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB.
 * Everything else (NUL, CR, LF and the other controls, DEL) is rejected.
 */
export const FIELD_VALUE_CHAR: Uint8Array = byteClass((b) =>
  b === 0x20 || b === 0x09 || (b >= 0x21 && b <= 0x7e) || b >= 0x80
);

/**
 * Bytes allowed in a request-target: visible ASCII only (RFC 3986 characters
 * and the few more that browsers send unencoded). Space, controls, DEL, raw
 * non-ASCII and `#` (a fragment is never sent) are rejected.
 */
export const TARGET_CHAR: Uint8Array = byteClass((b) => b >= 0x21 && b <= 0x7e && b !== 0x23);

/** `HEXDIG` with its value: -1 for non-hex bytes. */
export const HEX_VALUE: Int8Array = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let b = 0; b < 256; b++) {
    if (isDigit(b)) table[b] = b - 0x30;
    else if (b >= 0x41 && b <= 0x46) table[b] = b - 0x41 + 10;
    else if (b >= 0x61 && b <= 0x66) table[b] = b - 0x61 + 10;
  }
  return table;
})();

/** ASCII lowercase mapping for every byte (non-letters map to themselves). */
export const LOWER: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) table[b] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  return table;
})();

/** Carriage return. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
/** Space. */
export const SP = 0x20;
/** Horizontal tab. */
export const HTAB = 0x09;
/** Colon. */
export const COLON = 0x3a;

// RFC 3986 §3.2.2: `uri-host = IP-literal / IPv4address / reg-name` (an IPv4
// address is also a reg-name). IPv6 is checked for its alphabet only.
const IP_LITERAL = String.raw`\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]`;
const REG_NAME_CHAR = String.raw`(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})`;

/**
 * A `Host` field value (RFC 9110 §7.2): `uri-host [ ":" port ]`. The host may
 * be empty, as it is for a target URI without an authority.
 */
export const HOST_FIELD_VALUE: RegExp = new RegExp(
  `^(?:${IP_LITERAL}|${REG_NAME_CHAR}*)(?::[0-9]*)?$`,
);

/**
 * The authority of an absolute-form target: a non-empty host and an optional
 * port, no userinfo (RFC 9110 §4.2.1, §4.2.4).
 */
export const TARGET_AUTHORITY: RegExp = new RegExp(
  `^(?:${IP_LITERAL}|${REG_NAME_CHAR}+)(?::[0-9]*)?$`,
);

/** The authority-form of CONNECT: `uri-host ":" port`, the port required (RFC 9112 §3.2.3). */
export const AUTHORITY_FORM: RegExp = new RegExp(
  `^(?:${IP_LITERAL}|${REG_NAME_CHAR}+):[0-9]+$`,
);
