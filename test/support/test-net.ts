import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { initHome, resolveHome, type HomePaths } from '../../node/home/home.js';
import { ATTESTATION_TOPIC } from '../../node/net/network.js';
import { until } from './until.js';

export { until };

/**
 * The one test network (issue 23): real daemons in this process, each on its own temp data
 * dir, with its API and libp2p on loopback ports the OS picks, and nothing that reaches past
 * the machine or another test file: no mDNS, no UPnP, no bootstrap peers unless given.
 * Waiting is on conditions (`until`, `connected`, `meshed`, `holds`, `converged`), never on
 * sleeps. `stop()` closes every node and host it started and removes every dir.
 *
 *   const net = new TestNet();
 *   afterAll(() => net.stop());
 *   const [a, b, c] = await net.nodes(3);          // b and c bootstrap from a
 *   await net.meshed(a, 2);
 *   const id = await a.publish(line);
 *   await net.holds([b, c], id);
 */

/** Config every test node starts with: isolated from the LAN and from other test files. */
export const ISOLATED: Readonly<Record<string, unknown>> = Object.freeze({
  'api.port': 0,
  'net.listen': ['/ip4/127.0.0.1/tcp/0'],
  'net.bootstrap': [],
  'net.mdns': false,
  'net.upnp': false,
});

/** The network services a test about something else does not need (they add timers and traffic, never reach past loopback). */
export const QUIET: Readonly<Record<string, unknown>> = Object.freeze({ 'net.dht': false, 'net.autonat': false, 'net.relay': 'off' });

/** A node of a TestNet: the daemon, plus what a test uses to talk to it. */
export type TestNode = Daemon & {
  /** The API bearer token. */
  readonly token: string;
  readonly home: HomePaths;
  /** Its data dir. */
  readonly dir: string;
  /** Its first libp2p listen address with /p2p/<peer id> (throws when the network is off). */
  readonly addr: string;
  /** POST to the API with the token. */
  post(path: string, body: string, type?: string): Promise<Response>;
  /** POST /v1/attestations; returns the response. */
  publish(line: string): Promise<Response>;
  /** GET from the API (no token); returns parsed JSON. */
  getJson<T = unknown>(path: string): Promise<T>;
};

export class TestNet {
  private readonly dirs: string[] = [];
  private readonly daemons = new Set<Daemon>();
  private readonly hosts: Libp2p[] = [];

  /** `defaults`: config (dotted paths, as command-line flags set them) for every node of this net, over ISOLATED. */
  constructor(private readonly defaults: Record<string, unknown> = {}) {}

  /** A fresh temp dir, removed at stop(). */
  async dir(prefix = 'chorus-net-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** A fresh initialised data dir (`chorus init`'s work), removed at stop(). */
  async home(prefix = 'chorus-net-'): Promise<HomePaths> {
    const home = resolveHome({}, await this.dir(prefix));
    await initHome(home);
    return home;
  }

  /** Starts a node on a fresh home (or on `opts.home`, e.g. to restart one); `overrides` over the net's defaults. */
  async node(overrides: Record<string, unknown> = {}, opts: { home?: HomePaths; prefix?: string } = {}): Promise<TestNode> {
    const home = opts.home ?? (await this.home(opts.prefix));
    const d = await startDaemon(home, { env: {}, overrides: { ...ISOLATED, ...this.defaults, ...overrides }, logger: makeLogger('silent', false) });
    this.daemons.add(d);
    const stop = d.stop.bind(d);
    const token = (await readFile(home.token, 'utf8')).trim();
    const post = (path: string, body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${d.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    Object.defineProperty(d, 'addr', {
      get(): string {
        const a = d.network?.listenAddrs[0];
        if (a === undefined) throw new Error('this node has no network');
        return a;
      },
    });
    return Object.assign(d as Daemon & { readonly addr: string }, {
      token,
      home,
      dir: home.root,
      post,
      publish: (line: string) => post('/v1/attestations', line),
      getJson: async <T,>(path: string): Promise<T> => (await (await fetch(`${d.url}${path}`)).json()) as T,
      stop: async (): Promise<void> => {
        this.daemons.delete(d);
        await stop();
      },
    });
  }

  /** Stops `n` and starts it again on the same data dir (same key, peer id and store), with `overrides` if given. */
  async restart(n: TestNode, overrides: Record<string, unknown> = {}): Promise<TestNode> {
    await n.stop();
    return this.node(overrides, { home: n.home });
  }

  /**
   * `count` nodes: the first on its own, the others bootstrapping from it (a star), unless
   * `bootstrap: false`. With `connected` (the default), returns once the first sees the others.
   */
  async nodes(count: number, overrides: Record<string, unknown> = {}, opts: { bootstrap?: boolean } = {}): Promise<TestNode[]> {
    const first = await this.node(overrides);
    const rest = await Promise.all(Array.from({ length: count - 1 }, () => this.node(opts.bootstrap === false ? overrides : { 'net.bootstrap': [first.addr], ...overrides })));
    if (opts.bootstrap !== false && count > 1) await this.connected(first, rest);
    return [first, ...rest];
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

  /** A libp2p host made by the test, stopped at stop(). */
  track<H extends Libp2p<never> | Libp2p>(h: H): H {
    this.hosts.push(h as unknown as Libp2p);
    return h;
  }

  /** Waits until `a` has a connection to each of `others`. */
  async connected(a: Daemon, others: readonly Daemon[], ms?: number): Promise<void> {
    const want = others.map((o) => o.network!.peerId);
    await until(`${want.length} peer(s) connected`, async () => {
      const have = new Set((await a.network!.peers()).map((p) => p.peerId));
      return want.every((p) => have.has(p));
    }, ms);
  }

  /**
   * Waits until `a` and each of `others` have each other in their gossip mesh for `topic`
   * (the attestation topic by default): a message published on any of them then reaches
   * the others by gossip, forwarded hop by hop, with no heartbeat left to wait for.
   */
  async meshed(a: Daemon, others: readonly Daemon[], topic = ATTESTATION_TOPIC, ms?: number): Promise<void> {
    const mesh = (d: Daemon): Set<string> => new Set(d.network!.host.services.pubsub.getMeshPeers(topic));
    await until(`gossip mesh on ${topic} between ${others.length + 1} node(s)`, () => {
      const ofA = mesh(a);
      return others.every((o) => ofA.has(o.network!.peerId) && mesh(o).has(a.network!.peerId));
    }, ms);
  }

  /** Resolves after `d`'s gossipsub has run `n` more heartbeats (peer scores are recomputed at each). */
  heartbeats(d: Daemon, n = 1): Promise<void> {
    const ps = d.network!.host.services.pubsub;
    return new Promise((resolve) => {
      let seen = 0;
      const on = (): void => {
        if (++seen < n) return;
        ps.removeEventListener('gossipsub:heartbeat', on);
        resolve();
      };
      ps.addEventListener('gossipsub:heartbeat', on);
    });
  }

  /** Waits until every one of `nodes` holds attestation `id`. */
  async holds(nodes: readonly Daemon[], id: string, ms?: number): Promise<void> {
    await until(`${nodes.length} node(s) to hold ${id}`, async () => (await Promise.all(nodes.map((n) => n.node.store.has(id)))).every(Boolean), ms);
  }

  /** Waits until every one of `nodes` holds `size` attestations (all the same when no size is given: the largest). */
  async converged(nodes: readonly Daemon[], size?: number, ms?: number): Promise<void> {
    await until(`${nodes.length} node(s) to converge`, () => {
      const sizes = nodes.map((n) => n.node.store.size);
      const want = size ?? Math.max(...sizes);
      return sizes.every((s) => s === want);
    }, ms);
  }

  /** Stops every node and host still running and removes every dir. */
  async stop(): Promise<void> {
    await Promise.all(this.hosts.splice(0).map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
    await Promise.all([...this.daemons].map((d) => d.stop().catch(() => undefined)));
    this.daemons.clear();
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** The sum of a metric's samples in a node's /metrics (`name` or `name{labels}` exactly). */
export async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}
