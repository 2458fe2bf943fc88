/**
 * The little XML the S3 API answers with (ListObjectsV2, multipart uploads,
 * CopyObject, errors), read without an XML library: S3 documents are flat,
 * never nest an element in one of the same name, and use only the five
 * predefined entities and character references.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Decodes XML character data: `&amp;` and the other predefined entities, `&#NN;` and `&#xNN;`. */
export function decodeXmlText(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith("#x")) return codePoint(parseInt(name.slice(2), 16)) ?? whole;
    if (name.startsWith("#")) return codePoint(parseInt(name.slice(1), 10)) ?? whole;
    return ENTITIES[name] ?? whole;
  });
}

function codePoint(value: number): string | undefined {
  return Number.isInteger(value) && value >= 0 && value <= 0x10ffff
    ? String.fromCodePoint(value)
    : undefined;
}

/** Escapes text for an XML element's content. */
export function escapeXmlText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** The raw content of every `<tag>...</tag>` in `xml`, in order (`<tag/>` counts as empty). */
export function xmlElements(xml: string, tag: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, "g");
  for (const match of xml.matchAll(pattern)) found.push(match[1] ?? "");
  return found;
}

/** The decoded text of the first `<tag>` in `xml`, or undefined when there is none. */
export function xmlText(xml: string, tag: string): string | undefined {
  const [first] = xmlElements(xml, tag);
  return first === undefined ? undefined : decodeXmlText(first);
}
