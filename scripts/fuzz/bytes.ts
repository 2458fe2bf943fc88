/**
 * Byte strings: inputs are built as strings of char codes 0-255, one per
 * byte, which keeps the grammar and the mutator simple string code.
 *
 * @module
 */

/** The bytes of a byte string (char codes 0-255). */
export function toBytes(binary: string): Uint8Array {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i) & 0xff;
  return out;
}

/** The byte string of some bytes: latin1 exactly (TextDecoder's "latin1" is windows-1252). */
export function toBinary(bytes: Uint8Array): string {
  let text = "";
  for (let from = 0; from < bytes.length; from += 8192) {
    const slice = bytes.subarray(from, Math.min(bytes.length, from + 8192));
    text += String.fromCharCode.apply(null, slice as unknown as number[]);
  }
  return text;
}

/** A byte string made printable for reports: controls and non-ASCII as `\xNN`, CRLF kept visible. */
export function escapeBinary(binary: string, maxLength = 2000): string {
  let out = "";
  for (let i = 0; i < binary.length && out.length < maxLength; i++) {
    const code = binary.charCodeAt(i);
    if (code === 0x0d) out += "\\r";
    else if (code === 0x0a) out += "\\n\n";
    else if (code === 0x5c) out += "\\\\";
    else if (code < 0x20 || code >= 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(code);
  }
  return out.length >= maxLength ? `${out}… (${binary.length} bytes in all)` : out;
}

/** The concatenation of `chunks`. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
