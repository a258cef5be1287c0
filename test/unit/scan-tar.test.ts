import { describe, expect, it } from 'vitest';
import { bufferSource, detectFormat, inspectSource } from '../../node/scan/inspect/index.js';
import { paxPath, PickleWriter, writeTar, type TarEntrySpec } from '../fixtures/scan/builders.js';

/**
 * The first torch.save format: a tar whose storages, tensors and pickle members torch.load
 * unpickles (with weights_only off). Every pickle torch would read is walked, including
 * the ones between raw storage records, and nothing else in the archive is read.
 */

const count = (n: number): Buffer => new PickleWriter().proto(2).binint1(n).stop().bytes();
const storageArgs = (key: string, type = 'FloatStorage'): Buffer =>
  new PickleWriter().proto(2).binUnicode(key).binUnicode('cpu').global('torch', type).raw(0x87).stop().bytes();
const evil = (): Buffer => new PickleWriter().proto(2).global('posix', 'system').binUnicode('id').tuple1().reduce().stop().bytes();
const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const i32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };

/** Storages: two float storages of 4 elements, then an empty views list. */
function storages(opts: { secondArgs?: Buffer; views?: Buffer; firstCount?: number } = {}): Buffer {
  return Buffer.concat([
    count(2),
    storageArgs('0'), u64(opts.firstCount ?? 4), Buffer.alloc(16, 0x80),
    opts.secondArgs ?? storageArgs('1'), u64(4), Buffer.alloc(16, 0x80),
    opts.views ?? new PickleWriter().proto(2).raw(']').stop().bytes(),
  ]);
}
function tensors(): Buffer {
  const args = new PickleWriter().proto(2).binUnicode('t0').binUnicode('0').global('torch', 'FloatTensor').raw(0x87).stop().bytes();
  return Buffer.concat([count(1), args, i32(1), Buffer.alloc(4), u64(4), u64(1), u64(0)]);
}
const mainPickle = (): Buffer => new PickleWriter().proto(2).emptyDict().binUnicode('w').binUnicode('t0').binpersid().setitem().stop().bytes();
const legacy = (over: Partial<Record<'storages' | 'tensors' | 'pickle', Buffer>> = {}, extra: TarEntrySpec[] = []): Buffer => writeTar([
  { name: 'sys_info', data: count(0) },
  { name: 'storages', data: over.storages ?? storages() },
  { name: 'tensors', data: over.tensors ?? tensors() },
  { name: 'pickle', data: over.pickle ?? mainPickle() },
  ...extra,
]);
const kinds = async (b: Buffer): Promise<string[]> => (await inspectSource(bufferSource(b))).findings.map((f) => `${f.kind}:${f.severity}${f.path ? `@${f.path}` : ''}`);

describe('tar-format torch checkpoints', () => {
  it('a well-formed one is recognised by its header checksum, every pickle walked, nothing found', async () => {
    const b = legacy();
    expect(await detectFormat(bufferSource(b))).toBe('tar');
    const r = await inspectSource(bufferSource(b));
    expect(r.findings).toEqual([]);
    expect(r.meta).toMatchObject({ entries: 4, torch: true });
    const pickles = (r.meta as { members: { path: string; meta?: { pickles: number } }[] }).members.map((m) => `${m.path}:${m.meta?.pickles}`);
    expect(pickles).toEqual(['storages:4', 'tensors:2', 'pickle:1']);
  });

  it('a payload in the main pickle is critical', async () => {
    expect(await kinds(legacy({ pickle: evil() }))).toEqual(['dangerous-import:critical@pickle']);
  });

  it('a payload hidden after the first storage\'s raw bytes, or in the views pickle, is found', async () => {
    expect(await kinds(legacy({ storages: storages({ secondArgs: evil() }) }))).toContain('dangerous-import:critical@storages');
    expect(await kinds(legacy({ storages: storages({ views: evil() }) }))).toContain('dangerous-import:critical@storages');
  });

  it('a link or a pax rename in place of a member torch reads is followed or refused', async () => {
    const linked = writeTar([{ name: 'payload', data: evil() }, { name: 'storages', data: storages() }, { name: 'tensors', data: tensors() }, { name: 'pickle', type: '1', link: 'payload' }]);
    expect(await kinds(linked)).toEqual(['malformed:high@pickle']);
    const renamed = writeTar([{ name: 'storages', data: storages() }, { name: 'tensors', data: tensors() }, paxPath('pickle'), { name: 'innocent.txt', data: evil() }]);
    expect(await kinds(renamed)).toEqual(['dangerous-import:critical@pickle']);
  });

  it('lying sizes, bad headers and floods are findings, never a crash', async () => {
    expect(await kinds(legacy({ storages: storages({ firstCount: 2 ** 40 }) }))).toEqual(['malformed:high@storages']);
    expect(await kinds(legacy({ storages: storages({ secondArgs: storageArgs('1', 'EvilStorage') }) }))).toEqual(['limit:medium@storages']);
    const b = legacy();
    b[1024 + 10] = (b[1024 + 10] as number) ^ 0xff; // the second header's name
    const broken = await inspectSource(bufferSource(b));
    expect(broken.format).toBe('tar');
    expect(broken.findings.map((f) => f.kind)).toContain('malformed');
    const many = writeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') })));
    const r = await inspectSource(bufferSource(many), { limits: { tarEntries: 5 } });
    expect(r.findings.map((f) => f.kind)).toEqual(['limit']);
    const hugePax = writeTar([{ name: 'PaxHeader', type: 'x', data: Buffer.alloc(1024 * 1024 + 1, 0x20) }, { name: 'x', data: evil() }]);
    expect(await kinds(hugePax)).toEqual(['malformed:high']);
    const records = await inspectSource(bufferSource(legacy()), { limits: { tarRecords: 1 } });
    expect(records.findings.map((f) => `${f.kind}@${f.path}`)).toEqual(['limit@storages']);
    const truncated = legacy().subarray(0, 1500);
    expect((await inspectSource(bufferSource(truncated))).findings.map((f) => f.kind)).toContain('malformed');
  });

  it('a tar of other things is listed and not read', async () => {
    const r = await inspectSource(bufferSource(writeTar([{ name: 'README', data: Buffer.from('hello') }, { name: 'data.pkl', data: evil() }])));
    expect(r).toMatchObject({ format: 'tar', findings: [], meta: { entries: 2, torch: false, members: [] } });
  });
});
