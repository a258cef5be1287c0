import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Key } from 'interface-datastore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { P2pDatastore } from '../../node/net/p2p-datastore.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('the libp2p datastore: peer records in memory, written behind to LevelDB', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-p2pds-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('peer records written, changed and deleted survive a close and reopen', async () => {
    const a = new P2pDatastore(join(dir, 'p2p'));
    await a.open();
    await a.put(new Key('/peers/a'), bytes('one'));
    await a.put(new Key('/peers/a'), bytes('two'));
    await a.put(new Key('/peers/b'), bytes('bee'));
    await a.put(new Key('/peers/c'), bytes('sea'));
    await a.delete(new Key('/peers/c'));
    expect(text(await a.get(new Key('/peers/a')))).toBe('two');
    await a.close();

    const b = new P2pDatastore(join(dir, 'p2p'));
    await b.open();
    expect(text(await b.get(new Key('/peers/a')))).toBe('two');
    expect(text(await b.get(new Key('/peers/b')))).toBe('bee');
    expect(await b.has(new Key('/peers/c'))).toBe(false);
    await expect(b.get(new Key('/peers/c'))).rejects.toMatchObject({ name: 'NotFoundError' });
    await b.close();
  });

  it('a query sees peer records not yet flushed, and other keys are written through', async () => {
    const a = new P2pDatastore(join(dir, 'p2p'));
    await a.open();
    await a.put(new Key('/peers/x'), bytes('ex'));
    await a.put(new Key('/dht/provider/k'), bytes('rec'));
    const seen: string[] = [];
    for await (const { key } of a.query({ prefix: '/peers/' })) seen.push(key.toString());
    expect(seen).toEqual(['/peers/x']);
    // Non-peer keys reach LevelDB at once: read straight from the underlying db.
    expect(text(await a.db.get('/dht/provider/k') as Uint8Array)).toBe('rec');
    await a.close();
  });
});
