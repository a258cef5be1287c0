/**
 * Security review, round 3: the 7z path (node/scan/inspect/sevenzip.ts). The worker lists an
 * archive with `7z l -slt`, unpacks all of it to one stream with `7z x -so`, and cuts that
 * stream back into members by the listed sizes, skipping entries it takes for directories.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { PickleWriter } from '../fixtures/scan/builders.js';
import { sevenZip } from '../fixtures/scan/sevenzip-builders.js';
import { judge, seen } from './scan-review-support.js';

const evilPickle = (cmd = 'id'): Buffer => new PickleWriter().proto(2).global('os', 'system').binUnicode(cmd).tuple1().reduce().stop().bytes();

/**
 * Sets the Windows DIRECTORY attribute (0x10) on the first member of a 7z archive written
 * with an unencoded header (-mhc=off), and fixes the header CRCs. The member stays a file:
 * 7z's IsDir is "empty stream and not empty file", not the attribute.
 */
function markFirstAttributeDirectory(archive: Buffer): Buffer {
  const b = Buffer.from(archive);
  const headerAt = 32 + Number(b.readBigUInt64LE(12));
  const header = b.subarray(headerAt, headerAt + Number(b.readBigUInt64LE(20)));
  // kAttributes (0x15), size, allDefined=1, external=0, then one UInt32 per file.
  const at = header.indexOf(Buffer.from('150a0100', 'hex'));
  if (at < 0) throw new Error('no attributes property');
  header[at + 4] = (header[at + 4] as number) | 0x10;
  b.writeUInt32LE(crc32(header), 28);
  b.writeUInt32LE(crc32(b.subarray(12, 32)), 8);
  return b;
}

/** 7z archive of files, header left unencoded so it can be patched. */
async function plainHeader7z(files: Record<string, Buffer>): Promise<Buffer> {
  // sevenZip() has no switch for -mhc: write it through 7z-wasm the same way.
  const { default: mod } = await import('7z-wasm');
  const SevenZip = ((mod as unknown as { default?: unknown }).default ?? mod) as (o: object) => Promise<{ FS: { mkdir(p: string): void; chdir(p: string): void; writeFile(p: string, d: Uint8Array): void; readFile(p: string): Uint8Array }; callMain(a: string[]): void }>;
  const sz = await SevenZip({ stdin: () => 0, stdout: () => undefined, stderr: () => undefined });
  sz.FS.mkdir('/in');
  for (const [name, bytes] of Object.entries(files)) sz.FS.writeFile(`/in/${name}`, bytes);
  sz.FS.chdir('/in');
  sz.callMain(['a', '-bd', '-t7z', '-mhc=off', '/out.7z', ...Object.keys(files)]);
  return Buffer.from(sz.FS.readFile('/out.7z'));
}

describe('scan review 3: 7z member split', () => {
  /**
   * S1. A 1-byte member whose attributes carry the Windows DIRECTORY bit (0x10). `7z l -slt`
   * prints `Folder = -` but `Attributes = D -rw-rw-rw-`; sevenzip.ts takes an Attributes
   * starting with D for a directory and drops the member from the split, while `7z x -so`
   * still writes its byte. Every later member is then cut one byte early: the scanner sees
   * `a.txt`'s byte + payload.pkl minus its last byte. With a.txt = 'U' (SHORT_BINSTRING) the
   * shifted view is `U <len=0x80> <128 bytes> .` — one harmless string — while payload.pkl
   * itself is PROTO 2, GLOBAL os.system, REDUCE, STOP (then padding pickle.load never reads).
   * One byte of shift keeps the output within the worker's `declared + 1` buffer, so no
   * "output past the sizes listed" I/O error is raised.
   *
   * Real loader: 7-Zip 24.09 (this 7z-wasm build) `7z x` writes a.txt and payload.pkl as
   * regular files (checked in the wasm FS: isFile, full content); IsDir in a 7z is "empty
   * stream and not empty file", not the attribute. pickle.load(open('payload.pkl','rb'))
   * runs os.system. Found signed clean and allowed.
   * Suggested fix: IsDir from `Folder = +` only (7-Zip's kpidIsDir); and require the -so
   * stream length to equal the listed sizes exactly (a longer or shorter stream = malformed,
   * high) instead of allowing one spare byte.
   */
  test('S1 a file member with the DIRECTORY attribute shifts the split', async () => {
    const evil = evilPickle();
    const payload = Buffer.concat([evil, Buffer.alloc(129 - evil.length, 0x4e), Buffer.from('.!')]);
    expect(payload.length).toBe(131);
    const file = markFirstAttributeDirectory(await plainHeader7z({ 'a.txt': Buffer.from('U'), 'payload.pkl': payload }));
    const v = await judge('s1', { 'model.7z': file });
    expect(v.signedClean, seen(v)).toEqual([]);
    expect(v.denials, seen(v)).not.toEqual([]);
  });

  test('S1 control: the same archive without the patch is denied', async () => {
    const v = await judge('s1c', { 'model.7z': await sevenZip({ 'payload.pkl': evilPickle(), 'z.txt': Buffer.from('h') }) });
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
