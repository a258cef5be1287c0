/** Decoders for the text arguments of protocol-0 pickle opcodes. */

const QUOTES = new Set([0x22, 0x27]);

/**
 * The value of a STRING argument (`'abc'` or `"abc"`, Python repr escapes), or undefined when it
 * is not quoted (CPython refuses such a pickle).
 */
export function decodeQuotedString(raw: Buffer): string | undefined {
  const q = raw[0];
  if (raw.length < 2 || q === undefined || !QUOTES.has(q) || raw[raw.length - 1] !== q) return undefined;
  const body = raw.subarray(1, raw.length - 1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (c !== 0x5c || i + 1 >= body.length) {
      out += String.fromCharCode(c);
      continue;
    }
    const e = String.fromCharCode(body[++i] as number);
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
    if (e === 'x' && i + 2 < body.length + 1) {
      const hex = body.subarray(i + 1, i + 3).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    out += simple[e] ?? `\\${e}`;
  }
  return out;
}

/** The value of a UNICODE argument (raw-unicode-escape: latin-1 with \uXXXX and \UXXXXXXXX). */
export function decodeRawUnicodeEscape(raw: Buffer): string {
  const s = raw.toString('latin1');
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt(u4 ?? u8 ?? '', 16);
    return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}
