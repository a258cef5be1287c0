import { INSPECT_LIMITS } from './constants.js';
import { isTorchDataPickle } from './archive.js';
import { isGgufMagic } from './gguf.js';
import { isNpyMagic } from './npy.js';
import { isOnnx } from './onnx.js';
import { walkPickle } from './pickle.js';
import { isSafetensorsHead } from './safetensors.js';
import { isTarHeader } from './tar.js';
import { readPrefix, type ByteSource } from './source.js';
import type { ModelFormat } from './types.js';
import { isZipMagic, readZipDirectory } from './zip.js';

const HDF5_MAGIC = Buffer.from('\x89HDF\r\n\x1a\n', 'latin1');
/** HDF5 puts its superblock at 0 or after a user block of 512 × 2^n bytes. */
const HDF5_OFFSETS = [0, 512, 1024, 2048, 4096];
/** Opcodes a protocol 0 or 1 pickle starts with. */
const PROTO0_START = new Set('(ci]})NILFSVUTXJKMGPBC'.split('').map((c) => c.charCodeAt(0)));
const IDENTIFIER = /^[A-Za-z_][\w.]*$/;

/**
 * Whether bytes are the start of a pickle. With a PROTO opcode a few decoded opcodes are
 * enough, even before a break (a payload then broken bytes is still a pickle); protocol 0/1
 * has no magic, so it must walk cleanly or import something named like Python.
 */
export function looksLikePickle(head: Buffer, complete: boolean): boolean {
  const first = head[0];
  if (first === undefined) return false;
  if (first === 0x80) {
    if ((head[1] ?? 0xff) > 5) return false;
  } else if (!PROTO0_START.has(first)) return false;
  const walk = walkPickle(head, { complete, limits: { pickleOpcodes: 100_000 } });
  const broken = walk.findings.some((f) => f.kind === 'malformed');
  const named = walk.meta.imports.some((i) => IDENTIFIER.test(i.module) && IDENTIFIER.test(i.name));
  if (!broken) return walk.meta.opcodes >= 2;
  return first === 0x80 ? walk.meta.opcodes >= 4 || named : named && walk.meta.opcodes >= 3;
}

/**
 * Recognises a model file by its content, never its name: GGUF magic, NumPy magic, HDF5 signature, a tar archive (by its header checksum), a zip
 * (a PyTorch checkpoint when it holds a `data.pkl`), a safetensors header, an ONNX ModelProto,
 * or a pickle. Anything else is `unknown`.
 */
export async function detectFormat(source: ByteSource): Promise<ModelFormat> {
  const head = await readPrefix(source, INSPECT_LIMITS.sniffBytes);
  if (isGgufMagic(head)) return 'gguf';
  if (isNpyMagic(head)) return 'npy';
  for (const at of HDF5_OFFSETS) {
    if (head.subarray(at, at + HDF5_MAGIC.length).equals(HDF5_MAGIC)) return 'hdf5';
  }
  if (isZipMagic(head)) {
    const dir = await readZipDirectory(source);
    return dir.ok && dir.entries.some((e) => isTorchDataPickle(e.name)) ? 'pytorch-zip' : 'zip';
  }
  if (isTarHeader(head)) return 'tar';
  if (isSafetensorsHead(head, source.size)) return 'safetensors';
  if (head[0] === 0x08 && (await isOnnx(source))) return 'onnx';
  if (looksLikePickle(head, head.length === source.size)) return 'pickle';
  return 'unknown';
}
