/**
 * Attack figure: new-issuer admission and the strangers' pool share (issue 20), in process.
 * What is measured is admission counts and bytes held, not latency, so each node is a
 * LocalNode on a temp home fed through its ingestor with the origins of fake peers, whose
 * remote addresses the ingestor is told (as the network tells it from libp2p).
 *
 *   1. Fresh keys from 3 peer ids on one IP (then 4 peer ids on 4 IPs of one /24): new
 *      issuers admitted, against the same inputs under the per-peer cap alone (the rule
 *      before: caps multiplied with free peer ids).
 *   2. An honest stranger that filled the pool, then a flood of 2,000 fresh keys from one
 *      /24: what the honest stranger still holds, against the same inputs arriving through
 *      one group (where the rule is the old per-issuer max-min: pool ÷ issuers).
 */
import { join } from 'node:path';
import type { Decision } from '../../src/ingest/decide.js';
import { initHome, resolveHome } from '../../node/home/home.js';
import { LocalNode } from '../../node/local/local-node.js';
import type { Origin } from '../../node/ingest/origin.js';
import { log, type Row } from './attack-kit.js';
import { fmt, met, percent, QUICK } from './kit.js';
import { makeEnvelopeLine, makeIssuer, type TestIssuer } from '../support/fixtures.js';

/** Caps far above anything sent: the per-peer rule alone, or the pool alone. */
const NO_CAP = 1_000_000_000;
const UNCAPPED = { 'limits.newIssuersPerIpPerHour': NO_CAP, 'limits.newIssuersPerNetworkPerHour': NO_CAP, 'limits.newIssuersPerHour': NO_CAP };

const KEYS_PER_PEER = QUICK ? 1_100 : 1_200;
const FLOOD_KEYS = 2_000;
/** The smallest pool the config allows: the flood overfills it several times. */
const POOL_BYTES = 1024 * 1024;
const BLOB_BYTES = 2_000;

/** An envelope of about `bytes` (an unknown predicate type: kept and relayed, never scored). */
const blob = (issuer: TestIssuer, bytes: number): string =>
  makeEnvelopeLine(issuer, { predicateType: 'https://example.org/blob/v1', fields: { blob: 'x'.repeat(Math.floor(bytes * 0.7)) } });

async function openNode(root: string, name: string, overrides: Record<string, unknown>, addresses: Record<string, string>): Promise<LocalNode> {
  const home = resolveHome({}, join(root, name));
  await initHome(home);
  const node = await LocalNode.open(home, { env: {}, overrides: { 'net.enabled': false, 'log.level': 'silent', ...overrides } });
  node.ingestor.setPeerAddress((peer) => addresses[peer]);
  return node;
}

/** Feeds each peer's lines from that peer (gossip); returns every decision. */
async function feed(node: LocalNode, byPeer: readonly [peer: string, lines: readonly string[]][]): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const [peer, lines] of byPeer) {
    const origin: Origin = { via: 'gossip', peer };
    out.push(...(await node.ingestor.ingestMany(lines, undefined, origin)));
  }
  return out;
}

const admitted = (ds: readonly Decision[]): number => ds.filter((d) => d.outcome === 'accept').length;

function refusals(ds: readonly Decision[]): string {
  const by = new Map<string, number>();
  for (const d of ds) {
    if (d.outcome === 'accept') continue;
    const cap = d.code === 'rate_limited' ? `${String(d.details?.['cap'])} cap` : d.code;
    by.set(cap, (by.get(cap) ?? 0) + 1);
  }
  return [...by].map(([k, n]) => `${k} ${fmt(n)}`).join(', ') || 'none';
}

/** Admitted new issuers under the caps, and under the per-peer cap alone, for the same inputs. */
async function admissionRow(root: string, name: string, addresses: Record<string, string>, lines: readonly string[]): Promise<{ capped: Decision[]; baseline: number }> {
  const peers = Object.keys(addresses);
  const share = Math.ceil(lines.length / peers.length);
  const byPeer = peers.map((p, i) => [p, lines.slice(i * share, (i + 1) * share)] as [string, string[]]);
  const capped = await openNode(root, `${name}-caps`, {}, addresses);
  const base = await openNode(root, `${name}-per-peer`, UNCAPPED, addresses);
  try {
    return { capped: await feed(capped, byPeer), baseline: admitted(await feed(base, byPeer)) };
  } finally {
    await capped.close();
    await base.close();
  }
}

/** What `honest` holds after the flood, with the flood from one /24 and the honest stranger from another, or all from one group. */
async function poolShare(root: string, name: string, oneGroup: boolean, honestIssuer: string, honestLines: readonly string[], floodLines: readonly string[]): Promise<{ honest: number; one: number; groups: number; used: number; evictions: number }> {
  const addresses: Record<string, string> = oneGroup
    ? { honest: '203.0.113.9', 'flood-1': '203.0.113.7', 'flood-2': '203.0.113.8' }
    : { honest: '198.51.100.9', 'flood-1': '203.0.113.7', 'flood-2': '203.0.113.8' };
  const node = await openNode(root, name, { ...UNCAPPED, 'limits.newIssuersPerPeerPerHour': NO_CAP, 'limits.strangerPoolBytes': POOL_BYTES }, addresses);
  try {
    const half = floodLines.length / 2;
    await feed(node, [['honest', honestLines]]);
    await feed(node, [['flood-1', floodLines.slice(0, half)], ['flood-2', floodLines.slice(half)]]);
    const usage = node.store.issuerUsage(honestIssuer);
    return {
      honest: usage.bytes,
      one: usage.attestations > 0 ? usage.bytes / usage.attestations : BLOB_BYTES,
      groups: node.pool.groupCount,
      used: node.pool.usedBytes,
      evictions: node.pool.evictions,
    };
  } finally {
    await node.close();
  }
}

export async function figureAdmission(root: string, rows: Row[]): Promise<void> {
  log(`figure: new-issuer caps and the strangers' pool share; signing ${fmt(3 * KEYS_PER_PEER + FLOOD_KEYS)} fresh keys…`);
  const fresh = Array.from({ length: 3 * KEYS_PER_PEER }, () => makeEnvelopeLine(makeIssuer()));

  const ip = await admissionRow(root, 'one-ip', { a: '198.51.100.7', b: '198.51.100.7', c: '198.51.100.7' }, fresh);
  rows.push([
    `new issuers from 3 peer ids on one IP, ${fmt(KEYS_PER_PEER)} fresh keys each`,
    `${fmt(admitted(ip.capped))} admitted; ignored: ${refusals(ip.capped)}`,
    `per-peer cap alone: ${fmt(ip.baseline)} admitted`,
    '≤ the IP cap (1,000 an hour)',
    met(admitted(ip.capped) <= 1_000),
  ]);
  const net = await admissionRow(root, 'one-24', { a: '198.51.100.7', b: '198.51.100.8', c: '198.51.100.9', d: '198.51.100.10' }, fresh);
  rows.push([
    `  4 peer ids on 4 IPs of one /24, ${fmt(Math.ceil(fresh.length / 4))} fresh keys each`,
    `${fmt(admitted(net.capped))} admitted; ignored: ${refusals(net.capped)}`,
    `per-peer cap alone: ${fmt(net.baseline)} admitted`,
    '≤ the /24 cap (2,000 an hour)',
    met(admitted(net.capped) <= 2_000),
  ]);
  for (const row of rows.slice(-2)) log(row.join(' | '));

  const honest = makeIssuer();
  const honestLines = Array.from({ length: Math.ceil((POOL_BYTES * 1.2) / BLOB_BYTES) }, () => blob(honest, BLOB_BYTES));
  const floodLines = Array.from({ length: FLOOD_KEYS }, () => blob(makeIssuer(), BLOB_BYTES));
  const two = await poolShare(root, 'pool-groups', false, honest.did, honestLines, floodLines);
  const old = await poolShare(root, 'pool-one-group', true, honest.did, honestLines, floodLines);
  const kb = (b: number): string => `${fmt(b / 1024)} KB`;
  const share = (b: number): string => percent(b / POOL_BYTES, 1);
  const goal = POOL_BYTES / 2 - two.one;
  rows.push([
    `honest stranger's pool share after a ${fmt(FLOOD_KEYS)}-key flood from one /24 (${fmt(POOL_BYTES / 2 ** 20)} MiB pool)`,
    `${kb(two.honest)} = ${share(two.honest)} of the pool (${two.groups} groups, pool ${share(two.used)} used, ${fmt(two.evictions)} evicted)`,
    `one group, the old per-issuer rule: ${kb(old.honest)} = ${share(old.honest)}; pool ÷ issuers = ${kb(POOL_BYTES / (FLOOD_KEYS + 1))}`,
    `≥ pool ÷ groups − one attestation (${kb(goal)})`,
    met(two.honest >= goal),
  ]);
  log(rows.at(-1)!.join(' | '));
}
