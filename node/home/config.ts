import { readFile } from 'node:fs/promises';
import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/ingest/limits.js';

/** A multiaddr string (`/ip4/127.0.0.1/tcp/7421`), checked when the config is read, not when libp2p starts. */
const Multiaddr = z.string().min(1).refine((text) => {
  try {
    multiaddr(text);
    return true;
  } catch {
    return false;
  }
}, { error: (issue) => `not a multiaddr: ${JSON.stringify(issue.input)} (expected e.g. /ip4/0.0.0.0/tcp/7421)` });

/** A DNS name as it appears in a Host header, without port: letters, digits, dots, hyphens. */
const HostName = z.string().regex(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i, 'a host name without port or scheme, e.g. "chorus.example.org"')
  .transform((host) => host.toLowerCase().replace(/\.$/, ''));

/** config.json in the data dir. Every field has a default; unknown fields are an error. */
export const ConfigSchema = z.strictObject({
  limits: z
    .strictObject({
      maxEnvelopeBytes: z.int().min(1024).max(DEFAULT_LIMITS.maxEnvelopeBytes).default(DEFAULT_LIMITS.maxEnvelopeBytes),
      maxClockSkewSeconds: z.int().min(0).max(86_400).default(DEFAULT_LIMITS.maxClockSkewMs / 1000),
      issuerQuotaBytes: z.int().min(1024).default(DEFAULT_LIMITS.issuerQuotaBytes),
      strangerPoolBytes: z.int().min(1024 * 1024).default(1024 * 1024 * 1024).describe('bytes of envelopes kept from issuers this node does not trust (SPEC §14.3)'),
      newIssuersPerPeerPerHour: z.int().min(0).default(1000).describe('issuers new to this node that one peer may bring in per hour (SPEC §14.4)'),
      newIssuersPerIpPerHour: z.int().min(0).default(1000).describe('issuers new to this node that the peers at one IP address (IPv6: one /64) may bring in per hour together; loopback peers are held to the per-peer cap instead'),
      newIssuersPerNetworkPerHour: z.int().min(0).default(2000).describe('issuers new to this node that the peers in one /24 (IPv4) or /48 (IPv6) network may bring in per hour together; a private address is its own network'),
      newIssuersPerHour: z.int().min(0).default(5000).describe('issuers new to this node that all peers together may bring in per hour'),
      expiredGraceSeconds: z.int().min(0).default(7 * 86_400).describe('expired attestations are deleted this long after they expire'),
      maxConcurrentViews: z.int().min(1).max(64).default(4).describe('reputation views computed at once; more wait'),
      viewCacheEntries: z.int().min(0).max(10_000_000).default(50_000).describe('views kept computed until something changes them (0: none)'),
      viewCacheBytes: z.int().min(0).default(128 * 1024 * 1024).describe('memory the kept views may take, estimated'),
      trustChangesPerIssuerPerMinute: z.int().min(1).max(10_000).default(6).describe('times one issuer\'s endorsement changes (endorsements, their retractions, their expiries) may force a trust-graph recomputation per clock minute, trusted or not; past it they are stored but reach the graph at the next minute, together (SPEC §14.8)'),
      trustRecomputesPerSecond: z.int().min(1).max(1000).default(4).describe('trust-graph recomputations per second that endorsement changes may force, all issuers together; past it they wait their turn (SPEC §14.8)'),
    })
    .prefault({}),
  api: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1').describe('address the HTTP API binds to; loopback unless you mean it'),
      lan: z.boolean().default(false).describe('also serve the API and web view on the LAN over HTTPS with a certificate the node makes (its fingerprint in chorus status and chorus ui), a login for everything, reads included'),
      lanHost: z.string().min(1).default('0.0.0.0').describe('address the LAN server binds to'),
      lanPort: z.int().min(0).max(65_535).default(7443).describe('port of the LAN server (HTTPS)'),
      port: z.int().min(0).max(65_535).default(7420),
      requireTokenForReads: z.boolean().default(false),
      bodyLimitBytes: z.int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
      importLimitBytes: z.int().min(1024).default(1024 * 1024 * 1024),
      writeRateLimitPerMinute: z.int().min(1).default(6000),
      corsOrigins: z.array(z.string().min(1)).default([]),
      allowedHosts: z.array(HostName).default([]).describe('host names (besides loopback addresses and the bound address) that requests may name in their Host header; anything else is refused (DNS rebinding)'),
      maxEventStreams: z.int().min(1).max(100_000).default(64).describe('concurrent /v1/events streams; more are answered 503'),
      eventReplayBytesPerSecond: z.int().min(1024).default(512 * 1024).describe('bytes per second one /v1/events stream may replay from the store (history before it opened); past it the stream waits'),
      eventReplayTotalBytesPerSecond: z.int().min(1024).default(1024 * 1024).describe('bytes per second all /v1/events streams together may replay; one replay page is read at a time'),
      eventHistoryWithoutToken: z.int().min(0).default(1000).describe('a /v1/events client without the API token replays at most this many of the newest arrival sequence numbers; an older cursor starts there (event: truncated)'),
    })
    .prefault({}),
  net: z
    .strictObject({
      enabled: z.boolean().default(true).describe('join the peer-to-peer network'),
      listen: z.array(Multiaddr).default(['/ip4/0.0.0.0/tcp/7421']).describe('libp2p listen multiaddrs'),
      bootstrap: z.array(Multiaddr).default([]).describe('peers to dial at start and keep connected (multiaddrs ending in /p2p/<peer id>)'),
      mdns: z.boolean().default(true).describe('find peers on the local network'),
      dht: z.boolean().default(true).describe('Kademlia DHT for peer routing (protocol /chorus/kad/1.0.0)'),
      maxConnections: z.int().min(1).max(10_000).default(64),
      inboundPerIpPerMinute: z.int().min(1).default(120).describe('new inbound connections one IP address may open per minute (a fifteenth of it at once); more are refused before the handshake (SPEC §14.9)'),
      inboundPerMinute: z.int().min(1).default(600).describe('new inbound connections from everyone together per minute (a twentieth of it at once)'),
      maxInboundPerIp: z.int().min(1).default(32).describe('inbound connections one IP address (IPv6: one /64) may hold open at once'),
      gateLoopback: z.boolean().default(false).describe('hold loopback peers to the per-address connection bounds too; off: every local process shares 127.0.0.1, so they are held to the global rate only'),
      providerRecords: z.int().min(100).default(100_000).describe('DHT provider records kept for other peers in all; when full, the peer holding the most gives way (SPEC §14.9)'),
      providerRecordsPerPeer: z.int().min(10).default(5_000).describe('DHT provider records kept for one peer'),
      syncIntervalSeconds: z.int().min(5).default(300).describe('how often to reconcile with each connected peer'),
      syncOnConnect: z.boolean().default(true).describe('reconcile with a peer as soon as it connects'),
      announce: z.array(Multiaddr).default([]).describe('addresses to tell peers instead of the listen addresses (a public address you forward to this node)'),
      upnp: z.boolean().default(true).describe('ask the router (UPnP IGD) to forward the listen port; mapped addresses are announced once AutoNAT confirms them'),
      autonat: z.boolean().default(true).describe('AutoNAT v2: ask peers to dial back so the node knows which of its addresses are reachable'),
      relay: z.enum(['off', 'auto', 'always']).default('auto').describe('circuit relay v2 client: dial relayed addresses; auto = also take a relay reservation when no public address is confirmed and a relay is known; always = reserve from the start'),
      relayServer: z.boolean().default(false).describe('act as a circuit relay for peers behind NAT (for a node with a public address)'),
      dcutr: z.boolean().default(true).describe('DCUtR: upgrade a relayed connection to a direct one by hole punching'),
      providers: z.boolean().default(true).describe('announce in the DHT which digests this node holds attestations about (every digest published through it; of those received, about 3 nodes per digest do; SPEC §13.4), and ask the DHT when queried about an unknown digest'),
      announceQuietSeconds: z.number().min(0).max(3600).default(10).describe('provider announcements start only once no attestation has landed for this long (plus a random part of up to half of it); none waits more than 5 minutes'),
      lookupTimeoutSeconds: z.number().min(0.1).max(60).default(5).describe('how long a query about an unknown digest waits for the network'),
    })
    .prefault({}),
  transparency: z
    .strictObject({
      mirror: z.boolean().default(true).describe('mirror the logs of the issuers that count in this node\'s view (their leaf ids and newest verified checkpoint) and say in every view how complete its copy is (SPEC §16)'),
      maxMirroredIssuers: z.int().min(1).max(1_000_000).default(10_000).describe('issuer logs mirrored at most (the node\'s own, then counting issuers by weight)'),
      maxLeavesPerIssuer: z.int().min(1000).max(100_000_000).default(1_000_000).describe('leaves one mirrored log may hold; a checkpoint beyond it is not followed (the log shows as incomplete)'),
      witness: z.boolean().default(true).describe('cosign (c2sp.org/tlog-cosignature) every checkpoint this node verified to extend the previous one, and gossip the cosignature'),
      witnesses: z.array(z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/)).max(1000).default([]).describe('the witnesses whose cosignatures settle a checkpoint; empty: any issuer that counts in this node\'s view'),
      quorum: z.int().min(0).max(1000).default(2).describe('cosignatures of those witnesses a checkpoint needs to be settled (0: none needed); a witness-policy file in the data dir (c2sp.org/tlog-policy) replaces witnesses and quorum'),
      requireSettled: z.boolean().default(false).describe('a log whose verified checkpoint is not settled by the witness quorum is not complete (state unsettled)'),
      equivocators: z.enum(['exclude', 'flag']).default('exclude').describe('an issuer caught signing two histories: exclude (its attestations stop counting) or flag (shown, still counted)'),
      staleHours: z.number().min(1).max(24 * 365).default(48).describe('a log whose newest checkpoint is older than this is stale'),
      checkpointSeconds: z.int().min(1).max(86_400).default(60).describe('this node signs a new checkpoint of its own log at most this often while it grows (and at least daily)'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  trust: z
    .strictObject({
      /** Whether the node's own key counts without being on the trust list. */
      includeSelf: z.boolean().default(true),
    })
    .prefault({}),
  check: z
    .strictObject({
      mode: z.enum(['deny-flagged', 'allowlist']).default('deny-flagged').describe('deny-flagged: refuse what the view flags or inspection finds dangerous; allowlist: allow only what an approver approved'),
      approvers: z.array(z.string().regex(/^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$/)).max(1000).default([]).describe('issuers whose approval attestations allow a model in allowlist mode'),
      failOn: z.array(z.enum(['flagged', 'disputed', 'caution', 'unknown'])).min(1).default(['flagged']).describe('view statuses that deny in deny-flagged mode'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;

export const DEFAULT_CONFIG: Config = ConfigSchema.parse({});

/**
 * Environment variables that override config.json, each naming the field it sets.
 * Values are parsed as JSON when they look like it (numbers, booleans, arrays).
 */
export const ENV_OVERRIDES: Record<string, string> = {
  CHORUS_API_HOST: 'api.host',
  CHORUS_API_PORT: 'api.port',
  CHORUS_API_REQUIRE_TOKEN_FOR_READS: 'api.requireTokenForReads',
  CHORUS_API_WRITE_RATE_LIMIT: 'api.writeRateLimitPerMinute',
  CHORUS_API_CORS_ORIGINS: 'api.corsOrigins',
  CHORUS_API_ALLOWED_HOSTS: 'api.allowedHosts',
  CHORUS_API_MAX_EVENT_STREAMS: 'api.maxEventStreams',
  CHORUS_LIMITS_VIEW_CACHE_ENTRIES: 'limits.viewCacheEntries',
  CHORUS_LOG_LEVEL: 'log.level',
  CHORUS_NET_ENABLED: 'net.enabled',
  CHORUS_NET_LISTEN: 'net.listen',
  CHORUS_NET_BOOTSTRAP: 'net.bootstrap',
  CHORUS_NET_MDNS: 'net.mdns',
  CHORUS_NET_ANNOUNCE: 'net.announce',
  CHORUS_NET_UPNP: 'net.upnp',
  CHORUS_NET_RELAY: 'net.relay',
  CHORUS_NET_RELAY_SERVER: 'net.relayServer',
};

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let obj = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof obj[part] !== 'object' || obj[part] === null) obj[part] = {};
    obj = obj[part] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1] as string] = value;
}

function envValue(raw: string): unknown {
  if (/^(true|false|-?\d+(\.\d+)?|\[.*\])$/s.test(raw.trim())) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * The configuration in force: config.json, then environment variables, then `overrides`
 * (command-line flags, as dotted paths), validated once. A bad value is one error that
 * names the field and where it came from.
 */
export async function resolveConfig(path: string, env: NodeJS.ProcessEnv = {}, overrides: Record<string, unknown> = {}): Promise<Config> {
  const raw = await readRawConfig(path);
  const from = new Map<string, string>();
  for (const [name, field] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      setPath(raw, field, envValue(value));
      from.set(field, `environment variable ${name}`);
    }
  }
  for (const [field, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    setPath(raw, field, value);
    from.set(field, 'command line');
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    // An array item's source is its array's: "net.listen.0" came from where "net.listen" did.
    const source = issue?.path.map((_, depth) => from.get(issue.path.slice(0, depth + 1).join('.'))).findLast((found) => found !== undefined);
    throw new ChorusError('bad_input', `invalid configuration: field "${field}" (from ${source ?? path}): ${issue?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}

async function readRawConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ChorusError('io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ChorusError('bad_input', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function limitsOf(config: Config): Limits {
  return {
    maxEnvelopeBytes: config.limits.maxEnvelopeBytes,
    maxClockSkewMs: config.limits.maxClockSkewSeconds * 1000,
    issuerQuotaBytes: config.limits.issuerQuotaBytes,
  };
}
