import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { ConnectionGate, type GateRefusal } from '../../node/net/connection-gate.js';

const from = (ip: string, port = 40_000): ReturnType<typeof multiaddr> => multiaddr(`/ip4/${ip}/tcp/${port}`);

describe('the connection gate (before the handshake)', () => {
  const bounds = { perIpPerMinute: 60, perIpBurst: 5, totalPerMinute: 600, totalBurst: 12, perIpOpen: 3, suspectPerMinute: 2, suspectBurst: 2 };

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

  it('relayed connections (no IP of their own) are left to the relay', () => {
    const g = new ConnectionGate({ ...bounds, perIpBurst: 0 });
    expect(g.deny(multiaddr('/p2p-circuit'))).toBe(false);
  });
});
