import { randomBytes } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bufferSource, inspectSource } from '../../node/scan/inspect/index.js';
import { PickleWriter } from '../fixtures/scan/builders.js';

/** Compressed streams (joblib's compress=, .gz): inflated within a bound and inspected as what they hold. */
const evil = new PickleWriter().proto(2).global('os', 'system').binUnicode('id').tuple1().reduce().stop().bytes();
const inspect = (b: Buffer, limits = {}) => inspectSource(bufferSource(b), { limits });

describe('compressed streams', () => {
  it('zlib and gzip streams are inflated and their pickle walked', async () => {
    for (const b of [deflateSync(evil), gzipSync(evil)]) {
      const r = await inspect(b);
      expect(r.format).toBe('compressed');
      expect(r.findings.map((f) => f.kind)).toEqual(['dangerous-import']);
      expect(r.findings[0]!.path).toMatch(/^\((zlib|gzip)\)$/);
      expect(r.meta).toMatchObject({ inner: 'pickle' });
    }
  });

  it('a bomb is inflated to the cap only: its start is inspected and the rest is a limit', async () => {
    const bomb = deflateSync(Buffer.concat([evil.subarray(0, -1), Buffer.alloc(32 * 1024 * 1024, 0x4e)]));
    const r = await inspect(bomb, { compressedBytes: 1024 * 1024 });
    expect(r.findings.map((f) => f.kind)).toContain('dangerous-import');
    expect(r.findings).toContainEqual(expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringMatching(/inflates past 1048576 bytes/) }));
    expect(r.meta).toMatchObject({ bytes: 1024 * 1024 });
  });

  it('a stream corrupt part-way: what inflated is inspected, and the break is reported', async () => {
    const z = deflateSync(Buffer.concat([evil, randomBytes(100_000)]));
    const broken = Buffer.concat([z.subarray(0, 50_000), Buffer.alloc(64, 0xff)]);
    const r = await inspect(broken);
    expect(r.format).toBe('compressed');
    expect(r.findings.map((f) => f.kind)).toContain('dangerous-import');
    expect(r.findings.some((f) => f.kind === 'malformed')).toBe(true);
  });

  it('corrupt xz and bz2 streams (7-Zip unpacks these) are never clean; lz4 and zstd are not read', async () => {
    for (const head of ['fd377a585a000004', '425a6839314159265359']) {
      const r = await inspect(Buffer.concat([Buffer.from(head, 'hex'), Buffer.alloc(64)]));
      expect(r.format).toBe('compressed');
      expect(r.findings.length).toBeGreaterThan(0);
      expect(r.findings.some((f) => f.severity === 'high' && (f.kind === 'malformed' || f.kind === 'not-inspected'))).toBe(true);
    }
    for (const head of ['04224d18', '28b52ffd']) {
      const r = await inspect(Buffer.concat([Buffer.from(head, 'hex'), Buffer.alloc(64)]));
      expect(r.findings).toMatchObject([{ kind: 'not-inspected', severity: 'high' }]);
    }
  });

  it('text that happens to start like a zlib header is not taken for one', async () => {
    const r = await inspect(Buffer.from('x\u009c is just text here, not a stream', 'latin1'));
    expect(r.format).toBe('unknown');
  });
});

describe('archives with more members than are opened', () => {
  it('stop at zipMembersOpened with a high limit finding, which the gate denies', async () => {
    const { writeZip } = await import('../fixtures/scan/builders.js');
    const zip = writeZip(Array.from({ length: 30 }, (_, i) => ({ name: `m/${i}.pkl`, data: Buffer.from('N.') })));
    const r = await inspect(zip, { zipMembersOpened: 10 });
    expect(r.findings).toContainEqual(expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringMatching(/more than 10 members/) }));
    const all = await inspect(zip);
    expect(all.findings).toEqual([]);
  });
});
