import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from './run-cli.js';
import { until as waitFor } from '../support/until.js';

const DEVNET = join(REPO_ROOT, 'deploy', 'devnet.sh');

/** The devnet's APIs refuse connections until they are up: a failed fetch is "not yet". */
const until = (what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<boolean> => waitFor(what, cond, ms, { retryErrors: true, intervalMs: 100 });

describe('deploy/', () => {
  it('devnet.sh brings up 3 nodes from one command; an attestation published on one is answered on another; chorus peers/connect work against it; Ctrl-C stops them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-devnet-'));
    const apiBase = 21_000 + Math.floor(Math.random() * 2000);
    const p2pBase = apiBase + 5000;
    const child = spawn('bash', [DEVNET, '3', dir], {
      cwd: REPO_ROOT,
      env: { ...process.env, API_BASE: String(apiBase), P2P_BASE: String(p2pBase) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until('the devnet is up', async () => out.includes('devnet: 3 nodes'), 60_000);
      const digest = 'cd'.repeat(32);
      // Publish on node 0 through the CLI (which talks to node 0's API).
      const r = await runCli(['attest', 'audit', '--subject', digest, '--harness', 'devnet@1', '--verdict', 'fail'], { home: join(dir, 'node0') });
      expect(r.code).toBe(0);
      // Node 2 answers from its own store once gossip has delivered it.
      await until('node 2 knows it', async () => {
        const v = (await (await fetch(`http://127.0.0.1:${apiBase + 2}/v1/models/${digest}/reputation`)).json()) as { byPredicate: { audit?: { total: number } } };
        return v.byPredicate.audit?.total === 1;
      });
      // The script's hint says node 2 trusts node 0: its view of node 0's finding is a verdict.
      expect(out).toMatch(/nodes 1\.\.2 trust node 0 \(did:key:z/);
      const verdict = await runCli(['query', digest], { home: join(dir, 'node2') });
      expect(verdict.stdout).toMatch(/^FLAGGED {2}sha256:/);
      expect(verdict.stdout).toContain('node0');
      const peers = (await (await fetch(`http://127.0.0.1:${apiBase}/v1/peers`)).json()) as { peers: unknown[] };
      expect(peers.peers.length).toBe(2);
      // One entry per peer, each with the catch-up sync it had on connecting.
      await until('node 0 synced with both peers', async () => {
        const p = (await (await fetch(`http://127.0.0.1:${apiBase}/v1/peers`)).json()) as { peers: { peerId: string; lastSync: { at: string; fetched: number } | null }[] };
        return p.peers.length === 2 && new Set(p.peers.map((x) => x.peerId)).size === 2 && p.peers.every((x) => x.lastSync !== null && !Number.isNaN(Date.parse(x.lastSync.at)));
      });
      // What a user sees: reachability in status (loopback only: private), and a query about
      // a digest no node holds asks the network, finds no holder, and says so.
      const st = await runCli(['status'], { home: join(dir, 'node1') });
      expect(st.stdout).toMatch(/reachability\s+private\s+\(upnp off, autonat on, relay auto/);
      const q = await runCli(['query', 'ef'.repeat(32)], { home: join(dir, 'node2') });
      expect(q.code).toBe(0);
      expect(q.stdout).toMatch(/asked the network: 0 node\(s\) hold attestations about it/);
      expect(q.stdout).toMatch(/^UNKNOWN {2}sha256:/);

      // The peer commands of the built CLI, against node 0's API.
      const home0 = join(dir, 'node0');
      const api = (await (await fetch(`http://127.0.0.1:${apiBase}/v1/peers`)).json()) as { peers: { peerId: string; addresses: string[] }[] };
      const listed = await runCli(['peers'], { home: home0 });
      expect(listed.code).toBe(0);
      for (const p of api.peers) expect(listed.stdout).toContain(p.peerId);
      expect(listed.stdout).toMatch(/score -?\d+\.\d\d/);
      const bad = await runCli(['connect', 'not-a-multiaddr'], { home: home0 });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('not a multiaddr');
      // A peer nobody runs, at a port nobody listens on.
      const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
      const closed = await runCli(['connect', `/ip4/127.0.0.1/tcp/1/p2p/${nobody}`], { home: home0, timeoutMs: 20_000 });
      expect(closed.code).toBe(1);
      expect(closed.stderr).toContain('cannot connect');
      const someone = api.peers[0]!;
      const again = await runCli(['connect', `${someone.addresses[0]!.split('/p2p/')[0]}/p2p/${someone.peerId}`], { home: home0 });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`connected to ${someone.peerId}`);
    } finally {
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGINT');
      await exited;
      // Every node removed its daemon.json on the way out: they stopped cleanly.
      for (const i of [0, 1, 2]) await expect(readFile(join(dir, `node${i}`, 'daemon.json'))).rejects.toThrow();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the Dockerfile, .dockerignore, compose devnet and devnet script use paths and flags the CLI has, and say what an operator needs', async () => {
    const docker = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(docker).toMatch(/FROM node:22/);
    expect(docker).toMatch(/\nUSER node\n/);
    expect(docker).toMatch(/\nHEALTHCHECK .*\/healthz/);
    expect(docker).toMatch(/\nVOLUME \/data\n/);
    expect(docker).toMatch(/\nEXPOSE 7420 7421\n/);
    // The image installs the package an operator installs, so `chorus` is on its PATH.
    expect(docker).toMatch(/npm pack/);
    expect(docker).toMatch(/npm install -g --omit=optional/);
    expect(docker).toMatch(/CMD \["chorus", "start"/);
    // The run example publishes both ports (the API on loopback), and shows the CLI and token.
    expect(docker).toMatch(/docker run .*-p 127\.0\.0\.1:7420:7420 -p 7421:7421/s);
    expect(docker).toMatch(/docker exec chorus chorus status/);
    expect(docker).toMatch(/docker exec chorus cat \/data\/api-token/);
    // Nothing of the host's leaks into the build: modules, build output, devnet keys.
    const ignore = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.chorus-dev', '**/identity.key', '**/api-token', '**/peer.key', '.git']) expect(ignore).toContain(p);
    // The compose devnet: both ports per node, and the others trust node0 so the demo shows a verdict.
    const compose = await readFile(join(REPO_ROOT, 'deploy', 'docker-compose.yml'), 'utf8');
    for (const i of [0, 1, 2]) expect(compose).toContain(`"127.0.0.1:750${i}:7420", "760${i}:7421"`);
    expect(compose.match(/SEED: node0/g)).toHaveLength(2);
    const nodeScript = join(REPO_ROOT, 'deploy', 'compose-node.sh');
    const script = await readFile(nodeScript, 'utf8');
    expect(script).toMatch(/chorus trust add "\$did"/);
    expect(script).toMatch(/--bootstrap "\/dns4\/\$SEED\/tcp\/7421\/p2p\/\$peer"/);
    expect(spawnSync('sh', ['-n', nodeScript]).status).toBe(0);
    // Every flag the scripts pass is one the CLI has.
    const help = (await runCli(['start', '--help'])).stdout + (await runCli(['attest', 'audit', '--help'])).stdout + (await runCli(['trust', 'add', '--help'])).stdout;
    for (const file of [DEVNET, join(REPO_ROOT, 'deploy', 'docker-compose.yml'), nodeScript]) {
      const text = await readFile(file, 'utf8');
      const flags = [...text.matchAll(/[ "](--[a-z-]+)/g)].map((m) => m[1]!).filter((f) => !['--build', '--omit'].includes(f));
      expect(flags.length).toBeGreaterThan(0);
      for (const flag of flags) expect([file, flag, help.includes(flag)]).toEqual([file, flag, true]);
    }
    expect(spawnSync('bash', ['-n', DEVNET]).status).toBe(0);
  });
});
