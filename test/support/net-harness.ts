import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@libp2p/noise';
import { yamux } from '@libp2p/yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht';
import { startDaemon, type Daemon } from '../../node/daemon/daemon.js';
import { makeLogger } from '../../node/daemon/logger.js';
import { initHome, resolveHome } from '../../node/home/home.js';

/**
 * Daemons with the network on loopback and bare libp2p hosts (an attacker's or a plain
 * peer's), for the network's attack tests; `stop()` ends them all and removes their dirs.
 */
export class NetHarness {
  private readonly dirs: string[] = [];
  private readonly daemons: Daemon[] = [];
  private readonly hosts: Libp2p[] = [];

  constructor(private readonly defaults: Record<string, unknown> = {}) {}

  /** A fresh temp dir, removed at stop(). */
  async dir(prefix = 'chorus-net-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** A daemon in this process on a fresh data dir: loopback only, no mDNS, UPnP, AutoNAT or relay. */
  async node(overrides: Record<string, unknown> = {}): Promise<Daemon> {
    const home = resolveHome({}, await this.dir());
    await initHome(home);
    const d = await startDaemon(home, {
      env: {},
      overrides: { 'api.port': 0, 'net.listen': ['/ip4/127.0.0.1/tcp/0'], 'net.mdns': false, 'net.dht': false, 'net.upnp': false, 'net.autonat': false, 'net.relay': 'off', ...this.defaults, ...overrides },
      logger: makeLogger('silent', false),
    });
    this.daemons.push(d);
    return d;
  }

  /** A bare libp2p host on loopback (TCP, Noise, Yamux, identify), with the node's DHT protocol when asked. */
  async bareHost(opts: { dht?: boolean } = {}): Promise<Libp2p<{ dht?: KadDHT }>> {
    const base = { addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] };
    const h = (opts.dht
      ? await createLibp2p({ ...base, services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: '/chorus/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: false }) } })
      : await createLibp2p({ ...base, services: { identify: identify() } })) as unknown as Libp2p<{ dht?: KadDHT }>;
    this.hosts.push(h as unknown as Libp2p);
    return h;
  }

  async stop(): Promise<void> {
    await Promise.all(this.hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
    await Promise.all(this.daemons.map((d) => d.stop().catch(() => undefined)));
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** The sum of a metric's samples in a node's /metrics (`name` or `name{labels}` exactly). */
export async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}
