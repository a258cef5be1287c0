import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { ConnectionGate, type GateRefusal } from '../../node/net/connection-gate.js';

const from = (ip: string, port = 40_000): ReturnType<typeof multiaddr> => multiaddr(`/ip4/${ip}/tcp/${port}`);

describe('the connection gate (before the handshake)', () => {
  const bounds = { perIpPerMinute: 60, perIpBurst: 5, totalPerMinute: 600, totalBurst: 12, perIpOpen: 3, suspectPerMinute: 2, suspectBurst: 2, gateLoopback: false };

  it('paces new connections per address: a burst, then the refill rate; fresh ports (and so fresh peer ids) do not help', () => {
    let t = 0;
    const why: GateRefusal[] = [];
    const g = new ConnectionGate({ ...bounds, perIpOpen: 1_000 }, (w) => why.push(w), () => t);
    const admitted = Array.from({ length: 20 }, (_, i) => !g.deny(from('10.0.0.1', 40_000 + i))).filter(Boolean).length;
    expect(admitted).toBe(5);
    expect(why.every((w) => w === 'ip-rate')).toBe(true);
    t += 3_000; // 60 a minute: 3 more
    expect(Array.from({ length: 10 }, () => !g.deny(from('10.0.0.1'))).filter(Boolean).length).toBe(3);
    // Another address has its own bucket.
    expect(g.deny(from('10.0.0.2'))).toBe(false);
  });

  it('bounds everyone together: many addresses share the global rate', () => {
    const t = 0;
    const g = new ConnectionGate({ ...bounds, perIpOpen: 1_000 }, undefined, () => t);
    const admitted = Array.from({ length: 100 }, (_, i) => !g.deny(from(`10.1.${i >> 8}.${i & 255}`))).filter(Boolean).length;
    expect(admitted).toBe(12);
  });

  it('bounds connections open at once per address', () => {
    let t = 0;
    const g = new ConnectionGate({ ...bounds, perIpBurst: 100, perIpPerMinute: 10_000 }, undefined, () => t);
    for (let i = 0; i < 3; i++) {
      expect(g.deny(from('10.0.0.3'))).toBe(false);
      g.opened(from('10.0.0.3'));
    }
    expect(g.deny(from('10.0.0.3'))).toBe(true);
    g.closed(from('10.0.0.3'));
    t += 1;
    expect(g.deny(from('10.0.0.3'))).toBe(false);
    expect(g.openCount).toEqual({ connections: 2, addresses: 1 });
  });

  it('an address a blocked peer came from is paced while the block lasts (others behind it still get through now and then), then is free again', () => {
    let t = 0;
    const why: GateRefusal[] = [];
    const g = new ConnectionGate({ ...bounds, perIpBurst: 100, perIpPerMinute: 10_000 }, (w) => why.push(w), () => t);
    g.blockedFrom(from('10.0.0.4'), 600_000);
    // The burst (2), then refused.
    expect([g.deny(from('10.0.0.4')), g.deny(from('10.0.0.4')), g.deny(from('10.0.0.4'))]).toEqual([false, false, true]);
    t += 30_000; // 2 a minute: one more
    expect(g.deny(from('10.0.0.4'))).toBe(false);
    expect(g.deny(from('10.0.0.4'))).toBe(true);
    expect(why).toEqual(['blocked-address', 'blocked-address']);
    t += 120_000; // the bucket holds 2 at most
    expect([g.deny(from('10.0.0.4')), g.deny(from('10.0.0.4')), g.deny(from('10.0.0.4'))]).toEqual([false, false, true]);
    t = 600_001;
    expect(g.deny(from('10.0.0.4'))).toBe(false);
    expect(g.deny(from('10.0.0.4'))).toBe(false);
  });

  it('relayed connections are left to the relay: their address is the relay\'s, shared by all behind it', () => {
    const g = new ConnectionGate({ ...bounds, perIpBurst: 0, totalBurst: 0 });
    expect(g.deny(multiaddr('/p2p-circuit'))).toBe(false);
    expect(g.deny(multiaddr('/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit'))).toBe(false);
  });

  it('loopback peers (every local process) are held to the global rate only, unless net.gateLoopback', () => {
    const t = 0;
    const open = new ConnectionGate({ ...bounds, perIpOpen: 1_000 }, undefined, () => t);
    expect(Array.from({ length: 12 }, () => !open.deny(from('127.0.0.1'))).filter(Boolean).length).toBe(12);
    expect(open.deny(from('127.0.0.1'))).toBe(true); // the global burst (12)
    const gated = new ConnectionGate({ ...bounds, perIpOpen: 1_000, gateLoopback: true }, undefined, () => t);
    expect(Array.from({ length: 12 }, () => !gated.deny(from('127.0.0.1'))).filter(Boolean).length).toBe(5);
  });

  it('IPv6: a host is its /64 (rotating addresses in it does not help), and a /48 or IPv4 /24 shares a network bucket', () => {
    const t = 0;
    const g = new ConnectionGate({ ...bounds, perIpOpen: 1_000, totalBurst: 1_000 }, undefined, () => t);
    const v6 = (i: number): ReturnType<typeof multiaddr> => multiaddr(`/ip6/2001:db8:aa:1::${(i + 1).toString(16)}/tcp/4001`);
    expect(Array.from({ length: 20 }, (_, i) => !g.deny(v6(i))).filter(Boolean).length).toBe(5);
    // Other /64s of the same /48: the network bucket (twice an address's burst) is the bound.
    const other = (i: number): ReturnType<typeof multiaddr> => multiaddr(`/ip6/2001:db8:aa:${(i + 2).toString(16)}::1/tcp/4001`);
    expect(Array.from({ length: 20 }, (_, i) => !g.deny(other(i))).filter(Boolean).length).toBe(5);
    // Public IPv4: hosts of one /24 share it too.
    const v4 = (i: number): ReturnType<typeof multiaddr> => from(`198.51.100.${i + 1}`);
    expect(Array.from({ length: 30 }, (_, i) => !g.deny(v4(i))).filter(Boolean).length).toBe(10);
  });
});
