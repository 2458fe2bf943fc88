/**
 * Evidence for the deviation table: a deliberately simple, independent look
 * at the bytes of a disputed request (its head lines, fields, chunk lines),
 * so that a table row can check that an input really has the feature that
 * excuses a disagreement, instead of trusting the parser being checked.
 *
 * Nothing here is used to decide anything about a request in the server.
 *
 * @module
 */

/** One line of a head: its content without the terminator, and the terminator seen. */
export interface Line {
  /** The line without its terminator (a CR before the LF is not part of it). */
  content: string;
  /** "\r\n", "\n" (a bare LF), or "" at the end of the input. */
  ending: string;
  /** Offset of the line's first byte in the input. */
  offset: number;
}

/** The request starting at some offset, as plain text tools see it. */
export interface RequestView {
  /** Offset of the request (leading empty lines included). */
  start: number;
  /** CRLF or LF lines skipped before the request line. */
  leadingEmptyLines: number;
  /** The request line and field lines, up to (not including) the first empty line. */
  lines: Line[];
  /** Whether an empty line ended the head within the input. */
  complete: boolean;
  /** Offset just past the head's empty line, or the input's length when there is none. */
  end: number;
  /** The request line's words split on single spaces. */
  requestWords: string[];
  /** The method: the request line up to its first space. */
  method: string;
  /** The target: the request line's second space-separated word ("" when absent). */
  target: string;
  /** The version word ("" when absent). */
  version: string;
  /** Field lines split at their first colon; `name` is as sent, `value` OWS-trimmed. */
  fields: { name: string; value: string; line: Line }[];
}

const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

/** Splits `text` from `from` into lines at LF, up to and past the first empty line. */
function headLines(text: string, from: number): { lines: Line[]; complete: boolean; next: number } {
  const lines: Line[] = [];
  let at = from;
  while (at < text.length) {
    const lf = text.indexOf("\n", at);
    if (lf === -1) {
      lines.push({ content: text.slice(at), ending: "", offset: at });
      return { lines, complete: false, next: text.length };
    }
    const crlf = lf > at && text.charCodeAt(lf - 1) === 0x0d;
    const line = {
      content: text.slice(at, crlf ? lf - 1 : lf),
      ending: crlf ? "\r\n" : "\n",
      offset: at,
    };
    at = lf + 1;
    if (line.content === "") return { lines, complete: true, next: at };
    lines.push(line);
  }
  return { lines, complete: false, next: at };
}

/** The request that starts at `start` in `text` (latin1, one char per byte). */
export function viewRequest(text: string, start: number): RequestView {
  let at = start;
  let leadingEmptyLines = 0;
  for (;;) {
    if (text.startsWith("\r\n", at)) at += 2;
    else if (text.startsWith("\n", at)) at += 1;
    else break;
    leadingEmptyLines++;
  }
  const { lines, complete, next } = headLines(text, at);
  const requestLine = lines[0]?.content ?? "";
  const requestWords = requestLine.split(" ");
  const fields = lines.slice(1).map((line) => {
    const colon = line.content.indexOf(":");
    return colon === -1 ? { name: line.content, value: "", line } : {
      name: line.content.slice(0, colon),
      value: line.content.slice(colon + 1).replace(OWS_EDGES, ""),
      line,
    };
  });
  return {
    start,
    leadingEmptyLines,
    lines,
    complete,
    end: next,
    requestWords,
    method: requestWords[0] ?? "",
    target: requestWords[1] ?? "",
    version: requestWords[2] ?? "",
    fields,
  };
}

/** The OWS-trimmed values of the fields named `name` (case-insensitive, exact otherwise). */
export function fieldValues(view: RequestView, name: string): string[] {
  const lower = name.toLowerCase();
  return view.fields.filter((field) => field.name.toLowerCase() === lower).map((f) => f.value);
}

/**
 * Whether the text from `from` to `to` holds an LF that no CR precedes. A CR
 * before `from` belongs to what came before (the end of a body), not to this LF.
 */
export function hasBareLf(text: string, from: number, to = text.length): boolean {
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) {
    if (i === from || text.charCodeAt(i - 1) !== 0x0d) return true;
  }
  return false;
}

/** Whether the text from `from` to `to` holds a CR that no LF follows. */
export function hasBareCr(text: string, from: number, to = text.length): boolean {
  for (let i = text.indexOf("\r", from); i !== -1 && i < to; i = text.indexOf("\r", i + 1)) {
    if (i + 1 >= text.length || text.charCodeAt(i + 1) !== 0x0a) return true;
  }
  return false;
}

/** Whether `value` holds a control character other than HTAB, or DEL. */
export function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** One chunk-size or trailer line of a chunked body. */
export interface ChunkLine {
  /** The line's content (up to its LF, CR excluded). */
  content: string;
  /** Offset of its first byte in the input. */
  offset: number;
  /** Data bytes before it in the body. */
  dataBefore: number;
  /** Whether it is a trailer line (after the last chunk) rather than a chunk-size line. */
  trailer: boolean;
}

/**
 * The chunk-size and trailer lines of a chunked body starting at `from`,
 * read leniently (LF ends a line; the size is the leading hex digits) until
 * the empty line after the trailers, the end of the input, or a size line
 * with no digits.
 */
export function chunkLines(text: string, from: number): ChunkLine[] {
  const out: ChunkLine[] = [];
  let at = from;
  let data = 0;
  let trailer = false;
  while (at < text.length) {
    const lf = text.indexOf("\n", at);
    const end = lf === -1 ? text.length : lf;
    const content = text.slice(at, end > at && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end);
    out.push({ content, offset: at, dataBefore: data, trailer });
    if (lf === -1) break;
    at = lf + 1;
    if (trailer) {
      if (content === "") break;
      continue;
    }
    const digits = /^[0-9a-fA-F]+/.exec(content)?.[0];
    if (digits === undefined) break;
    const size = parseInt(digits, 16);
    if (size === 0) {
      trailer = true;
      continue;
    }
    if (!Number.isSafeInteger(size) || at + size > text.length) break;
    at += size;
    data += size;
    // The CRLF after the data.
    if (text.startsWith("\r\n", at)) at += 2;
    else break;
  }
  return out;
}

/**
 * The chunk lines a parser reached after decoding `decoded` data bytes of the
 * chunked body starting at `from`: the lines with exactly that much data
 * before them (a size line, or the last-chunk line and the trailers). A
 * parser that stopped there stopped on one of them.
 */
export function chunkLinesAt(text: string, from: number, decoded: number): ChunkLine[] {
  return chunkLines(text, from).filter((line) => line.dataBefore === decoded);
}
