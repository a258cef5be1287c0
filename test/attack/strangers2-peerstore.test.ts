import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { randomDigest } from '../support/fixtures.js';

/*
 * Strangers, round two: the peer store keeps strangers in memory only "until they prove
 * useful" (p2p-datastore.ts). But every peer this node *dials* is kept (network.ts,
 * connection:open outbound), and whom it dials a stranger decides: every peer named in a
 * DHT answer is a peer:discovery event, and network.ts dials every discovered peer.
 */

const dirs: string[] = [];
const daemons: Daemon[] = [];
const hosts: Libp2p[] = [];

async function node(overrides: Record<string, unknown> = {}): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-s2-ps-'));
  dirs.push(dir);
  const home = resolveHome({}, dir);
  await initHome(home);
  const d = await startDaemon(home, {
    env: {},
    overrides: { 'api.port': 0, 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.dht': true, 'net.upnp': false, 'net.autonat': false, 'net.relay': 'off', ...overrides },
    logger: makeLogger('silent', false),
  });
  daemons.push(d);
  return d;
}

async function bareHost(): Promise<Libp2p> {
  const h = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } });
  hosts.push(h as unknown as Libp2p);
  return h as unknown as Libp2p;
}

async function metric(d: Daemon, name: string): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

// kad-dht's wire format by hand (dht.proto): Message { type = 1, key = 2, closer = 8, providers = 9 }, Peer { id = 1, addrs = 2 }.
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const field = (tag: number, bytes: Uint8Array | number[]): number[] => [tag, ...varint(bytes.length), ...bytes];
/** Reads the request's type (field 1) and key (field 2). */
function requestOf(buf: Uint8Array): { type: number; key: Uint8Array } {
  let i = 0;
  let type = 0;
  let key = new Uint8Array();
  const rv = (): number => {
    let n = 0;
    let s = 0;
    for (;;) {
      const b = buf[i++] as number;
      n |= (b & 0x7f) << s;
      if ((b & 0x80) === 0) return n;
      s += 7;
    }
  };
  while (i < buf.length) {
    const tag = rv();
    const wt = tag & 7;
    if (wt === 0) {
      const v = rv();
      if (tag >> 3 === 1) type = v;
    } else if (wt === 2) {
      const len = rv();
      if (tag >> 3 === 2) key = buf.slice(i, i + len);
      i += len;
    } else break;
  }
  return { type, key };
}

afterAll(async () => {
  await Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
  await Promise.all(daemons.map((d) => d.stop().catch(() => undefined)));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('the peer store vs strangers named in DHT answers', () => {
  it('peers a stranger names in its DHT answers, which do nothing useful, are not kept on disk', async () => {
    const victim = await node();
    // 20 fresh peer ids that will do nothing at all (no sync, no gossip, no DHT).
    const sybils = await Promise.all(Array.from({ length: 20 }, () => bareHost()));
    const named = sybils.map((s) => Uint8Array.from([...field(0x0a, s.peerId.toMultihash().bytes), ...s.getMultiaddrs().flatMap((a) => field(0x12, a.bytes))]));
    // The attacker answers every DHT request with all of them, as closer peers and as providers.
    const attacker = await bareHost();
    await attacker.handle('/chorus/kad/1.0.0', async (stream) => {
      const lp = lpStream(stream);
      try {
        for (;;) {
          const req = requestOf((await lp.read()).subarray());
          // eslint-disable-next-line no-console
          console.log('attacker got DHT request type', req.type);
          await lp.write(Uint8Array.from([0x08, ...varint(req.type), ...field(0x12, req.key), ...named.flatMap((p) => field(0x42, p)), ...(req.type === 3 ? named.flatMap((p) => field(0x4a, p)) : [])]));
        }
      } catch {
        // stream ended
      }
    });
    const keptBefore = await metric(victim, 'chorus_peer_records{where="kept"}');
    await attacker.dial(multiaddr(victim.network!.listenAddrs[0]!));
    // Wait until the victim's DHT has the attacker (identify names the protocol).
    const end = Date.now() + 10_000;
    while (Date.now() < end && ((victim.network!.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size ?? 0) === 0) await new Promise((r) => setTimeout(r, 50));
    // Anyone (any web page: reads of the loopback API need no token) asks about a digest the
    // node holds nothing about: the node asks the DHT, i.e. the attacker.
    // eslint-disable-next-line no-console
    console.log('rt size', (victim.network!.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size);
    const r = await fetch(`${victim.url}/v1/models/sha256:${randomDigest()}`).catch(() => undefined);
    // eslint-disable-next-line no-console
    console.log('view', r?.status, JSON.stringify(await r?.json().catch(() => null))?.slice(0, 400));
    await new Promise((r) => setTimeout(r, 3_000));
    const connectedSybils = sybils.filter((s) => victim.network!.host.getConnections(s.peerId).length > 0).length;
    const kept = (await metric(victim, 'chorus_peer_records{where="kept"}')) - keptBefore;
    // eslint-disable-next-line no-console
    console.log(`victim dialled ${connectedSybils} of 20 sybils named by the attacker; kept on disk: +${kept}`);
    // p2p-datastore.ts: "A flood of fresh peer ids that connect and do nothing leaves no
    // trace on disk". These did nothing; the attacker chose them; they are kept for good.
    expect(kept).toBe(0);
  });
});
