import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { INSPECT_LIMITS } from './constants.js';
import { isSavedModel } from './savedmodel.js';
import { isTorchDataPickle } from './archive.js';
import { isGgufMagic } from './gguf.js';
import { isNpyMagic } from './npy.js';
import { isOnnx } from './onnx.js';
import { PROTO0_START, walkPickle } from './pickle.js';
import { isSafetensorsHead } from './safetensors.js';
import { isTarHeader } from './tar.js';
import { readPrefix, type ByteSource } from './source.js';
import type { ModelFormat } from './types.js';
import { isZipMagic, readZipDirectory } from './zip.js';

const HDF5_MAGIC = Buffer.from('\x89HDF\r\n\x1a\n', 'latin1');

/**
 * Where an HDF5 superblock signature is, when it is where the library looks for one: at 0,
 * or after a user block of 512 × 2^n bytes, anywhere up to the end of the file
 * (H5FD_locate_signature). The user block can hold another format's bytes: such a file is
 * HDF5 to h5py and Keras, and that other format to its own loader — a polyglot, inspected as
 * both (see inspectSource).
 */
export async function hdf5SignatureAt(source: ByteSource, head?: Buffer): Promise<number | undefined> {
  for (let at = 0; at + HDF5_MAGIC.length <= source.size; at = at === 0 ? 512 : at * 2) {
    const b = head !== undefined && at + HDF5_MAGIC.length <= head.length ? head.subarray(at, at + HDF5_MAGIC.length) : await source.read(at, HDF5_MAGIC.length);
    if (b.equals(HDF5_MAGIC)) return at;
  }
  return undefined;
}
const IDENTIFIER = /^[A-Za-z_][\w.]*$/;
const SEVEN_Z_MAGIC = Buffer.from('377abcaf271c', 'hex');
/** A split/spanned zip starts with this marker before its first local header; readers find the end record anyway. */
const ZIP_SPANNED_MARKER = 0x08074b50;

/** The compression a stream starts with (joblib's compress=, a .gz), or undefined. */
export function compressionOf(head: Buffer): 'gzip' | 'zlib' | 'bz2' | 'xz' | 'lzma' | 'lz4' | 'zstd' | undefined {
  const b0 = head[0];
  const b1 = head[1];
  if (b0 === undefined || b1 === undefined) return undefined;
  if (b0 === 0x1f && b1 === 0x8b) return 'gzip';
  if ((b0 & 0x0f) === 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 === 0) return 'zlib';
  if (head.subarray(0, 3).toString('latin1') === 'BZh' && (head[3] ?? 0) >= 0x31 && (head[3] ?? 0) <= 0x39) return 'bz2';
  if (head.subarray(0, 6).equals(Buffer.from('fd377a585a00', 'hex'))) return 'xz';
  // joblib's 'lzma' writes the legacy .lzma header: properties 0x5d, then a 4-byte dictionary size.
  if (b0 === 0x5d && b1 === 0x00 && head[2] === 0x00) return 'lzma';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x184d2204) return 'lz4';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return undefined;
}

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

async function zipKind(source: ByteSource): Promise<'zip' | 'pytorch-zip'> {
  const dir = await readZipDirectory(source);
  return dir.ok && dir.entries.some((e) => isTorchDataPickle(e.name)) ? 'pytorch-zip' : 'zip';
}

/** Two bytes say zlib by chance one time in 31×16: the first bytes must also inflate. */
function inflatesAsZlib(head: Buffer): boolean {
  try {
    inflateSync(head.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
  }
}

/**
 * Recognises a model file by its content, never its name: GGUF magic, NumPy magic, HDF5 signature, a tar archive (by its header checksum), a zip
 * (a PyTorch checkpoint when it holds a `data.pkl`), a safetensors header, an ONNX ModelProto,
 * or a pickle. Anything else is `unknown`.
 */
export async function detectFormat(source: ByteSource): Promise<ModelFormat> {
  const head = await readPrefix(source, INSPECT_LIMITS.sniffBytes);
  const hdf5 = await hdf5SignatureAt(source, head);
  if (hdf5 === 0) return 'hdf5';
  if (isGgufMagic(head)) return 'gguf';
  if (isNpyMagic(head)) return 'npy';
  if (isZipMagic(head) || (head.length >= 4 && head.readUInt32LE(0) === ZIP_SPANNED_MARKER)) return zipKind(source);
  if (head.subarray(0, SEVEN_Z_MAGIC.length).equals(SEVEN_Z_MAGIC)) return '7z';
  if (isTarHeader(head)) return 'tar';
  if (isSafetensorsHead(head)) return 'safetensors';
  if (head[0] === 0x08 && (await isOnnx(source))) return 'onnx';
  if (await isSavedModel(source)) return 'savedmodel';
  if (looksLikePickle(head, head.length === source.size)) return 'pickle';
  const codec = compressionOf(head);
  if (codec !== undefined && (codec !== 'zlib' || inflatesAsZlib(head))) return 'compressed';
  // Anything else that ends in a readable zip directory is a zip to Python's zipfile (a prefix
  // of other bytes, a self-extractor): read it as one.
  if (source.size >= 22 && (await readZipDirectory(source)).ok) return zipKind(source);
  // Nothing at the start, HDF5 after a user block: HDF5 (a polyglot with a format is inspected as both).
  return hdf5 !== undefined ? 'hdf5' : 'unknown';
}
