import { describe, expect, it } from 'vitest';
import { bufferSource, inspectSource } from '../../node/scan/inspect/index.js';
import { PickleWriter, writeSafetensors } from '../fixtures/scan/builders.js';
import { sevenZip } from '../fixtures/scan/sevenzip-builders.js';

/** 7z archives and bz2/xz streams, unpacked by 7-Zip in a worker within bounds, their members inspected. */
const evil = new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes();
const st = writeSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 16);
const inspect = (b: Buffer, limits = {}) => inspectSource(bufferSource(b), { limits });

describe('7z archives and the streams 7-Zip unpacks', () => {
  it('a pickle inside a 7z archive is walked, its findings under the member name (nullifAI)', async () => {
    const r = await inspect(await sevenZip({ 'model.pkl': evil, 'model.safetensors': st }));
    expect(r.format).toBe('7z');
    expect(r.findings.map((f) => [f.kind, f.path])).toEqual([['dangerous-import', 'model.pkl']]);
    expect(r.meta).toMatchObject({ members: ['model.pkl', 'model.safetensors'] });
  });

  it('a 7z of benign files has no finding', async () => {
    const r = await inspect(await sevenZip({ 'model.safetensors': st, 'config.json': Buffer.from('{}') }, { solid: false }));
    expect(r.findings).toEqual([]);
  });

  it('xz and bz2 streams (joblib compress="xz"/"bz2") are unpacked and their pickle walked', async () => {
    for (const type of ['xz', 'bzip2'] as const) {
      const r = await inspect(await sevenZip({ 'model.pkl': evil }, { type }));
      expect(r.format).toBe('compressed');
      expect(r.findings.map((f) => f.kind)).toEqual(['dangerous-import']);
    }
  });

  it('an encrypted 7z is not-inspected, never clean', async () => {
    const r = await inspect(await sevenZip({ 'model.pkl': evil }, { password: 'secret' }));
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings.every((f) => f.kind === 'not-inspected' || f.kind === 'malformed')).toBe(true);
    expect(r.findings.some((f) => f.severity === 'high')).toBe(true);
  });

  it('a bomb is unpacked to the cap only: a high limit', async () => {
    const r = await inspect(await sevenZip({ 'zeros.bin': Buffer.alloc(8 * 1024 * 1024) }), { compressedBytes: 1024 * 1024 });
    expect(r.findings).toContainEqual(expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringMatching(/unpacks past 1048576 bytes/) }));
  });

  it('too many members, too large an archive: each a high limit', async () => {
    const many = await sevenZip(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, Buffer.from(String(i))])));
    expect((await inspect(many, { sevenZipEntries: 5 })).findings).toMatchObject([{ kind: 'limit', severity: 'high' }]);
    expect((await inspect(many, { sevenZipBytes: 10 })).findings).toMatchObject([{ kind: 'limit', severity: 'high' }]);
  });

  it('a run past the time bound is stopped: a high limit (a 1 ms bound against an unpacking that takes hundreds)', async () => {
    // 7-Zip hands out 32 MiB of output a byte at a time: far more than 1 ms on any machine.
    const slow = await sevenZip({ 'zeros.bin': Buffer.alloc(32 * 1024 * 1024) });
    const r = await inspect(slow, { sevenZipTimeMs: 1 });
    expect(r.findings).toMatchObject([{ kind: 'limit', severity: 'high', detail: expect.stringMatching(/ran past 1 ms/) }]);
  });

  it('a corrupt archive is never clean', async () => {
    const good = await sevenZip({ 'model.pkl': evil });
    const bad = Buffer.concat([good.subarray(0, 32), Buffer.alloc(good.length - 32, 0x55)]);
    const r = await inspect(bad);
    expect(r.format).toBe('7z');
    expect(r.findings.some((f) => f.severity === 'high')).toBe(true);
  });
});
