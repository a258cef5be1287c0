/**
 * Security review, round 2, claim 2 (bounds): small files that keep `inspectFile` busy far past
 * 10 s. The per-member bounds hold; nothing bounds their sum across the members of one zip.
 * Measured (node 22, this container, dist build, child process): a 216 KB `.keras` of 100
 * `config.json` members took 11.8 s (peak RSS 190 MB) and came out clean; 1,000 members
 * (2.1 MB) took 110 s (peak RSS 229 MB), clean. A 113 KB zip of 100 `.pkl` members took 11.2 s.
 * zipMembersOpened (10,000) would allow ~1,100 s and ~1,200 s.
 */
import { describe, expect, test } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { inspectSource } from '../../node/scan/inspect/index.js';
import { bufferSource } from '../../node/scan/inspect/source.js';
import { writeZip } from '../fixtures/scan/builders.js';

/** Just under 1 MiB (bombRatio ignores members under 1 MiB): ~120,000 tiny objects, ~1 KB deflated. */
function kerasConfigMember(): Buffer {
  const unit = '{"a":{}},';
  return Buffer.from(`[${unit.repeat(Math.floor((1024 * 1024 - 100) / unit.length))}{}]`);
}

/** Just under 1 MiB of NONE/POP: 500,000 opcodes, ~1 KB deflated. */
function busyPickle(): Buffer {
  return Buffer.concat([Buffer.from([0x80, 2]), Buffer.from('N0'.repeat((1024 * 1024 - 10) / 2), 'latin1'), Buffer.from('N.', 'latin1')]);
}

function zipOf(name: (i: number) => string, data: Buffer, n: number): Buffer {
  const compressed = deflateRawSync(data, { level: 9 });
  return writeZip(Array.from({ length: n }, (_, i) => ({ name: name(i), data, deflate: true, compressed })));
}

describe('scan review 2: time bounds across zip members', () => {
  /**
   * FINDING D1 (medium: an 865 KB file cost 23 s, clean; 10,000 members ≈ 10 min). Fixed by a
   * budget over all members read (zipTotalBytes): past it, a high limit the gate denies. The
   * budget is lowered here so the test stays fast; nothing here times anything.
   */
  test('D1 a .keras of 400 config.json members stops at the archive budget with a high limit', async () => {
    const file = zipOf(() => 'config.json', kerasConfigMember(), 400);
    const r = await inspectSource(bufferSource(file), { limits: { zipTotalBytes: 8 * 1024 * 1024 } });
    expect(r.findings, JSON.stringify(r.findings.slice(0, 3))).toContainEqual(expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringMatching(/add up to more than 8388608 bytes/) }));
  }, 120_000);

  /** FINDING D2 (medium: a 453 KB zip of 400 pickles cost 24 s; per-member opcode bound 20M, no total). Fixed as D1. */
  test('D2 a zip of 400 one-MiB pickles stops at the archive budget with a high limit', async () => {
    const file = zipOf((i) => `m${i}.pkl`, busyPickle(), 400);
    const r = await inspectSource(bufferSource(file), { limits: { zipTotalBytes: 8 * 1024 * 1024 } });
    expect(r.findings, JSON.stringify(r.findings.slice(0, 3))).toContainEqual(expect.objectContaining({ kind: 'limit', severity: 'high', detail: expect.stringMatching(/add up to more than 8388608 bytes/) }));
    expect(r.meta).toMatchObject({ pickles: expect.any(Array) });
    expect((r.meta as { pickles: string[] }).pickles.length).toBeLessThan(20);
  }, 120_000);
});
