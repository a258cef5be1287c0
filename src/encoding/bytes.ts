/** Byte helpers that run the same in Node and in browsers (no Buffer). */

const STD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

type NativeBuffer = {
  from(s: string, enc: 'base64'): Uint8Array;
  from(b: ArrayBufferLike, offset: number, length: number): Uint8Array & { toString(enc: 'base64'): string };
};
/** Node's Buffer when present: native base64 is several times faster than atob/btoa. */
const NodeBuffer = (globalThis as { Buffer?: NativeBuffer }).Buffer;


/**
 * Decodes standard or URL-safe base64, padded or not, as DSSE asks readers to accept.
 * Returns undefined for anything else (whitespace, mixed alphabets, bad length).
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  let std: string;
  if (STD.test(text)) std = text;
  else if (URL_SAFE.test(text)) std = text.replaceAll('-', '+').replaceAll('_', '/');
  else return undefined;
  const body = std.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  if (std.length !== body.length && std.length % 4 !== 0) return undefined;
  // Node's Buffer decodes natively (the input is already validated); elsewhere atob.
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(body, 'base64'));
  let bin: string;
  try {
    bin = atob(body + '='.repeat((4 - (body.length % 4)) % 4));
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Standard base64 with padding: the form Chorus writes. */
export function encodeBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(bin);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += HEX[byte];
  return hex;
}

/** Parses even-length hex (either case); undefined when not hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = new TextEncoder();

export const utf8 = {
  encode: (text: string): Uint8Array => encoder.encode(text),
};

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const part of parts) len += part.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const part of parts) {
    out.set(part, off);
    off += part.length;
  }
  return out;
}

/** Constant-shape equality of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
