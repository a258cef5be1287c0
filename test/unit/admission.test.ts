import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/ingest/limits.js';
import type { Decision } from '../../src/ingest/decide.js';
import { Metrics } from '../../node/api/metrics.js';
import { nativeSuite } from '../../node/crypto/native-suite.js';
import { classifyIp, remoteIp } from '../../node/ingest/address.js';
import { NewIssuerAdmission, type NewIssuerCaps } from '../../node/ingest/admission.js';
import { Ingestor } from '../../node/ingest/ingestor.js';
import { AttestationStore } from '../../node/store/attestation-store.js';
import { makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { tempDir } from '../support/temp-dir.js';

describe('peer addresses as the new-issuer caps see them', () => {
  it.each([
    ['203.0.113.7', { kind: 'public', ip: '203.0.113.7', network: '203.0.113.0/24' }],
    ['::ffff:203.0.113.7', { kind: 'public', ip: '203.0.113.7', network: '203.0.113.0/24' }],
    ['2001:db8:1:2:3:4:5:6', { kind: 'public', ip: '2001:db8:1:2::/64', network: '2001:db8:1::/48' }],
    ['2001:db8:1:2::9', { kind: 'public', ip: '2001:db8:1:2::/64', network: '2001:db8:1::/48' }],
    ['10.1.2.3', { kind: 'private', ip: '10.1.2.3', network: '10.1.2.3' }],
    ['172.20.0.5', { kind: 'private', ip: '172.20.0.5', network: '172.20.0.5' }],
    ['192.168.1.20', { kind: 'private', ip: '192.168.1.20', network: '192.168.1.20' }],
    ['100.64.0.1', { kind: 'private', ip: '100.64.0.1', network: '100.64.0.1' }],
    ['fd00::1', { kind: 'private', ip: 'fd00:0:0:0:0:0:0:1', network: 'fd00:0:0:0:0:0:0:1' }],
    ['fe80::1%eth0', { kind: 'private', ip: 'fe80:0:0:0:0:0:0:1', network: 'fe80:0:0:0:0:0:0:1' }],
    ['127.0.0.1', { kind: 'loopback', ip: '127.0.0.1', network: '127.0.0.1' }],
    ['::1', { kind: 'loopback', ip: '0:0:0:0:0:0:0:1', network: '0:0:0:0:0:0:0:1' }],
  ])('%s', (ip, want) => {
    expect(classifyIp(ip)).toEqual(want);
  });

  it('refuses what is not an IP address; takes a direct connection before a relayed one', () => {
    for (const bad of ['', 'example.org', '1.2.3', '256.1.1.1', '1::2::3', 'g::1']) expect(classifyIp(bad)).toBeUndefined();
    expect(remoteIp(['/ip4/198.51.100.1/tcp/4001/p2p/QmRelay/p2p-circuit', '/ip6/2001:db8::5/tcp/7421'])).toBe('2001:db8::5');
    expect(remoteIp(['/ip4/198.51.100.1/tcp/4001/p2p/QmRelay/p2p-circuit'])).toBe('198.51.100.1');
    expect(remoteIp(['/dns4/example.org/tcp/1'])).toBeUndefined();
  });
});

describe('new issuers per peer, IP address, network and hour', () => {
  async function setup(caps: NewIssuerCaps, addresses: Record<string, string>) {
    const dir = await tempDir();
    const store = await AttestationStore.open(dir.path);
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const ingestor = new Ingestor({ store, suite: nativeSuite(), limits: DEFAULT_LIMITS, admission: new NewIssuerAdmission(caps, () => clock) });
    ingestor.setPeerAddress((peer) => addresses[peer]);
    /** `n` envelopes of fresh issuers from `peer` (by gossip), one at a time. */
    const fresh = async (peer: string, n: number): Promise<Decision[]> => {
      const out: Decision[] = [];
      for (let i = 0; i < n; i++) out.push(await ingestor.ingest(makeEnvelopeLine(makeIssuer()), { via: 'gossip', peer }));
      return out;
    };
    return {
      ingestor,
      fresh,
      advance: (ms: number) => void (clock += ms),
      async [Symbol.asyncDispose]() {
        await store.close();
        await dir[Symbol.asyncDispose]();
      },
    };
  }
  const accepted = (ds: readonly Decision[]): number => ds.filter((d) => d.outcome === 'accept').length;
  const refusedBy = (ds: readonly Decision[]): (string | undefined)[] => ds.flatMap((d) => (d.outcome === 'accept' ? [] : [d.code === 'rate_limited' ? (d.details?.['cap'] as string) : d.code]));

  it('three peer ids on one IP share its cap; two IPs of one /24 share the network cap; the global cap holds for all', async () => {
    await using t = await setup({ perPeer: 10, perIp: 6, perNetwork: 9, global: 20 }, {
      a: '198.51.100.7', b: '198.51.100.7', c: '198.51.100.7',
      d: '203.0.113.7', e: '203.0.113.8',
      f: '192.0.2.1', g: '2001:db8:7::1',
    });
    // Three peer ids, one IP: 6 new issuers in all, not 3 × 10.
    const one = [...(await t.fresh('a', 5)), ...(await t.fresh('b', 5)), ...(await t.fresh('c', 5))];
    expect(accepted(one)).toBe(6);
    expect(new Set(refusedBy(one))).toEqual(new Set(['ip']));
    const refused = one.find((d) => d.code === 'rate_limited')!;
    expect(refused).toMatchObject({ outcome: 'ignore', details: { cap: 'ip', limit: 6 } });
    expect(refused.outcome !== 'accept' && refused.message).toMatch(/cap \(ip\).*IP address/);
    // Two IPs of one /24: each has its IP cap, together the network's 9.
    const net = [...(await t.fresh('d', 7)), ...(await t.fresh('e', 7))];
    expect(accepted(net)).toBe(9);
    expect(refusedBy(net)).toEqual(['ip', ...Array(4).fill('network')]);
    // 15 so far. The global cap (20) is shared by network once spent: networks new this
    // hour still get in, up to an equal share (20 ÷ 4 networks = 5) each…
    const rest = [...(await t.fresh('f', 4)), ...(await t.fresh('g', 4))];
    expect(accepted(rest)).toBe(8);
    // …and no further: the cap spent, a network at its share is refused.
    const more = await t.fresh('g', 3);
    expect(accepted(more)).toBe(1);
    expect(refusedBy(more)).toEqual(['global', 'global']);
    // An hour on, every window is new.
    t.advance(3_600_000);
    expect(accepted(await t.fresh('a', 2))).toBe(2);
  });

  it('a refused issuer takes no slot; a known issuer, a trusted one and local input are not new-issuer admissions', async () => {
    await using t = await setup({ perPeer: 2, perIp: 100, perNetwork: 100, global: 3 }, { a: '198.51.100.7', b: '203.0.113.9' });
    expect(accepted(await t.fresh('a', 4))).toBe(2);
    // 'a' was refused twice by its peer cap: those took no slot of the global cap (3).
    expect(t.ingestor.admissionUse().find((u) => u.cap === 'global')).toEqual({ cap: 'global', used: 2, limit: 3 });
    expect(accepted(await t.fresh('b', 1))).toBe(1);
    expect(t.ingestor.admissionUse().find((u) => u.cap === 'global')).toEqual({ cap: 'global', used: 3, limit: 3 });
    const known = makeIssuer();
    expect((await t.ingestor.ingest(makeEnvelopeLine(known))).outcome).toBe('accept');
    expect((await t.ingestor.ingest(makeEnvelopeLine(known), { via: 'sync', peer: 'b' })).outcome).toBe('accept');
  });

  it('peers on loopback or of unknown address are held to their own cap (and the global one), so a devnet is not starved', async () => {
    await using t = await setup({ perPeer: 5, perIp: 2, perNetwork: 2, global: 100 }, { a: '127.0.0.1', b: '127.0.0.1', c: '::1' });
    const ds = [...(await t.fresh('a', 5)), ...(await t.fresh('b', 5)), ...(await t.fresh('c', 5)), ...(await t.fresh('no-address', 6))];
    expect(accepted(ds)).toBe(20);
    expect(refusedBy(ds)).toEqual(['peer']);
  });

  it('counts refusals per cap in /metrics', async () => {
    await using dir = await tempDir();
    await using store = await AttestationStore.open(dir.path);
    const metrics = new Metrics(store);
    const ds: Decision[] = [
      { outcome: 'ignore', code: 'rate_limited', message: '', details: { cap: 'ip', limit: 1 } },
      { outcome: 'ignore', code: 'rate_limited', message: '', details: { cap: 'ip', limit: 1 } },
      { outcome: 'ignore', code: 'rate_limited', message: '', details: { cap: 'global', limit: 1 } },
    ];
    metrics.countDecisions(ds);
    const text = await metrics.registry.metrics();
    expect(text).toContain('chorus_admission_refused_total{cap="ip"} 2');
    expect(text).toContain('chorus_admission_refused_total{cap="global"} 1');
  });
});
