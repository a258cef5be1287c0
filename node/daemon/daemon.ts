import { join } from 'node:path';
import { createServer } from 'node:net';
import type { Config } from '../home/config.js';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ChorusError, isChorusError } from '../../src/errors.js';
import { secureDirs, type HomePaths } from '../home/home.js';
import { LocalNode } from '../local/local-node.js';
import { EventHub } from '../api/event-hub.js';
import { Metrics } from '../api/metrics.js';
import { Health } from '../api/health.js';
import { buildServer } from '../api/server.js';
import type { AppContext } from '../api/context.js';
import { NodeService } from '../service/node-service.js';
import { StatusWatch } from '../service/status-watch.js';
import { VERSION } from '../version.js';
import { readDaemonInfo, removeDaemonInfo, writeDaemonInfo } from './daemon-file.js';
import { makeLogger } from './logger.js';
import { Network } from '../net/network.js';
import { OwnLog } from '../tlog/own-log.js';
import { WebSessions } from '../api/web-ui/sessions.js';
import { openMirror } from '../tlog/open-mirror.js';
import type { Mirror } from '../tlog/mirror.js';

export interface Daemon {
  readonly url: string;
  readonly node: LocalNode;
  readonly log: Logger;
  readonly network: Network | undefined;
  /** This node's own issuer log (SPEC §16). */
  readonly ownLog: OwnLog;
  /** Stops serving, lets in-flight requests and writes finish, closes the store. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Command-line overrides as dotted config paths (api.port, log.level, ...). */
  readonly overrides?: Record<string, unknown>;
  readonly logger?: Logger;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** How long stop() lets in-flight requests finish before closing their connections. */
export const STOP_GRACE_MS = 5_000;

/**
 * Starts the long-running node: opens the store (taking LevelDB's lock, so a second
 * daemon on the same data dir is refused), serves the API, and records where it listens
 * in daemon.json so the CLI can talk to it.
 */
export async function startDaemon(home: HomePaths, opts: DaemonOptions = {}): Promise<Daemon> {
  const startedAt = Date.now();
  let node: LocalNode;
  let network: Network | undefined;
  let ownLog: OwnLog | undefined;
  let mirror: Mirror | undefined;
  try {
    await secureDirs(home);
    node = await LocalNode.open(home, { env: opts.env ?? process.env, overrides: opts.overrides ?? {} });
  } catch (e) {
    if (isChorusError(e, 'store_locked')) {
      const running = await readDaemonInfo(home);
      throw new ChorusError('store_locked', running
        ? `a chorus node is already running on ${home.root} (pid ${running.pid}, ${running.url})`
        : `the store at ${home.store} is in use by another chorus process`);
    }
    throw e;
  }
  const log = opts.logger ?? makeLogger(node.config.log.level);
  try {
    await checkPorts(node.config);
    const token = (await readFile(home.token, 'utf8').catch(() => {
      throw new ChorusError('not_initialized', `no API token at ${home.token}; run: chorus init`);
    })).trim();
    const events = new EventHub();
    const metrics = new Metrics(node.store, node.trustState);
    metrics.watchPool(node.pool);
    metrics.watchViews(node.viewCache);
    metrics.watchViewCache(node.views);
    const health = new Health();
    node.store.onFull((full) => {
      if (full) {
        health.storageFull();
        log.error({ store: home.store }, 'the disk is full: writes are refused until it has space again (the store then reopens by itself)');
      } else {
        health.storageFreed();
        log.info({ store: home.store, reopens: node.store.reopens }, 'disk space is back: the store was reopened and takes writes again');
      }
    });
    // This node's own issuer log (SPEC §16): its accepted own attestations, in order.
    ownLog = await OwnLog.open(join(home.root, 'log'), node.identity, node.store, Date.now, node.config.transparency.checkpointSeconds * 1000);
    const ol = ownLog;
    node.ingestor.onCommitted((ds) => ol.committed(ds));
    // The logs of the issuers that count here, mirrored, and what they show missing (SPEC §16.3).
    mirror = await openMirror(home, node);
    const mi = mirror;
    const statusWatch = new StatusWatch(node);
    node.store.onRemoved((removed) => statusWatch.removed(removed.flatMap((r) => r.subjects)));
    statusWatch.onChange(() => events.notify());
    node.ingestor.onCommitted((ds) => {
      metrics.countDecisions(ds);
      health.noteDecisions(ds);
      statusWatch.committed(ds);
      if (ds.some((d) => d.outcome === 'accept')) events.notify();
    });
    network = node.config.net.enabled
      ? await Network.start(node, log, metrics.registry, { mirror: mi, ownLog: ol }).catch((e: unknown) => {
          throw listenError(e, `the p2p listen address (net.listen ${node.config.net.listen.join(' ')})`, '--listen');
        })
      : undefined;
    metrics.watchLogs(mi, () => network?.logSync?.stats);
    const sessions = new WebSessions();
    const ctx: AppContext = {
      node, token, events, metrics, health, url: '', network, statusWatch, ownLog, mirror: mi, sessions,
      service: new NodeService(node, {
        startedAt,
        seen: (digest, view) => statusWatch.seenView(digest, view),
        url: () => ctx.url,
        lan: () => ctx.lan,
        ...(network ? { lookup: (digest: string) => network!.lookup(digest) } : {}),
        budgets: async () => [
          { name: 'event streams', used: (await metrics.eventStreams.get()).values[0]?.value ?? 0, limit: node.config.api.maxEventStreams, unit: 'streams', config: 'api.maxEventStreams' },
          ...(network?.budgets() ?? []),
        ],
        network: async () => network
          ? { peerId: network.peerId, listen: network.listenAddrs, peers: (await network.peers()).length, reachability: network.reachability(), providers: network.providerStats ?? null }
          : null,
      }),
    };
    const app = await buildServer(ctx, log);
    const { host, port } = node.config.api;
    await app.listen({ host, port }).catch((e: unknown) => {
      throw listenError(e, `the API address ${host}:${port} (api.host, api.port)`, '--host/--port');
    });
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    ctx.url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    // The LAN server (issue 22): HTTPS with the node's own certificate, a login for everything.
    let lanApp: Awaited<ReturnType<typeof buildServer>> | undefined;
    if (node.config.api.lan) {
      const { lanHost, lanPort } = node.config.api;
      // Loaded only for a LAN node (it brings the X.509 library and its polyfill).
      const { ensureTls } = await import('../api/tls.js');
      const tls = await ensureTls(join(home.root, 'tls'), [lanHost]);
      if (tls.replaced !== undefined) log.warn({ dir: join(home.root, 'tls'), fingerprint: tls.fingerprint }, `the LAN certificate in tls/ could not be used (${tls.replaced}): made a new one; browsers will see a new fingerprint`);
      lanApp = await buildServer(ctx, log, { https: { key: tls.key, cert: tls.cert }, bindHost: lanHost, names: tls.names, sessions });
      await lanApp.listen({ host: lanHost, port: lanPort }).catch((e: unknown) => {
        throw listenError(e, `the LAN address ${lanHost}:${lanPort} (api.lanHost, api.lanPort)`, '--lan');
      });
      const la = lanApp.server.address();
      const lp = typeof la === 'object' && la !== null ? la.port : lanPort;
      const shown = lanHost === '0.0.0.0' || lanHost === '::' ? tls.names.find((n) => !n.includes(':') && !/^[0-9.]+$/.test(n)) ?? 'localhost' : lanHost;
      ctx.lan = { url: `https://${shown.includes(':') ? `[${shown}]` : shown}:${lp}`, fingerprint: tls.fingerprint };
      log.info({ url: ctx.lan.url, fingerprint: tls.fingerprint, answersTo: tls.names }, 'serving the LAN over HTTPS: a login for everything; check the certificate fingerprint on the first visit');
    }
    if (!LOOPBACK.test(host)) {
      log.warn({ host }, 'the API is bound to a non-loopback address: other machines can reach it; reads are open unless api.requireTokenForReads is set');
    }
    await writeDaemonInfo(home, { pid: process.pid, url: ctx.url, startedAt: new Date(startedAt).toISOString(), version: VERSION });
    log.info({ url: ctx.url, did: node.identity.did, attestations: node.store.size, home: home.root, startupMs: Date.now() - startedAt }, 'chorus node started');

    // Expired attestations are deleted after their grace period: a minute after start, then hourly.
    const collect = (): void => {
      node.collectExpired().then((n) => {
        if (n > 0) log.info({ removed: n }, 'expired attestations collected');
      }, (e: unknown) => log.warn({ err: e }, 'collecting expired attestations failed'));
    };
    const gcFirst = setTimeout(collect, 60_000).unref();
    const gcTimer = setInterval(collect, 3_600_000).unref();

    let stopping: Promise<void> | undefined;
    return {
      url: ctx.url,
      node,
      log,
      network,
      ownLog: ol,
      stop() {
        stopping ??= (async () => {
          log.info('stopping: finishing in-flight requests and writes');
          clearTimeout(gcFirst);
          statusWatch.stop();
          clearInterval(gcTimer);
          events.close();
          // In-flight requests get a grace period; a client that keeps its request open
          // (a stalled upload, a stream) then loses its connection, so stop always ends.
          const force = setTimeout(() => {
            log.warn({ graceMs: STOP_GRACE_MS }, 'requests still open after the grace period: closing their connections');
            app.server.closeAllConnections();
          }, STOP_GRACE_MS);
          await app.close().finally(() => clearTimeout(force));
          await lanApp?.close();
          await network?.stop();
          await node.ingestor.idle();
          await ownLog?.close();
          await mirror?.close();
          await node.close();
          await removeDaemonInfo(home);
          log.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (e) {
    await network?.stop().catch(() => undefined);
    await ownLog?.close().catch(() => undefined);
    await mirror?.close().catch(() => undefined);
    await node.close();
    throw e;
  }
}

/**
 * A listen failure as one clear error: an address in use or not allowed is a runtime
 * problem (exit 1), an address that cannot be listened on at all is configuration (exit 2).
 */
/** Whether `host:port` (TCP) can be listened on now: tried and closed again at once. */
function portFree(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/**
 * Every port this node will listen on, tried before it joins anything: all that are taken
 * are reported at once (not one per start, nor after a sync from a peer already began).
 */
async function checkPorts(cfg: Config): Promise<void> {
  const wanted: { host: string; port: number; what: string; flag: string }[] = [];
  if (cfg.api.port !== 0) wanted.push({ host: cfg.api.host, port: cfg.api.port, what: `the API address ${cfg.api.host}:${cfg.api.port}`, flag: '--port' });
  if (cfg.api.lan && cfg.api.lanPort !== 0) wanted.push({ host: cfg.api.lanHost, port: cfg.api.lanPort, what: `the LAN address ${cfg.api.lanHost}:${cfg.api.lanPort}`, flag: 'api.lanPort' });
  if (cfg.net.enabled) {
    for (const addr of cfg.net.listen) {
      const m = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(addr);
      if (m && Number(m[2]) !== 0) wanted.push({ host: m[1]!, port: Number(m[2]), what: `the p2p listen address ${addr}`, flag: '--listen' });
    }
  }
  const busy: string[] = [];
  for (const w of wanted) {
    const code = await portFree(w.host, w.port);
    if (code === 'EADDRINUSE') busy.push(`${w.what} (${w.flag})`);
  }
  if (busy.length > 0) throw new ChorusError('unavailable', `${busy.join(' and ')} ${busy.length === 1 ? 'is' : 'are'} in use by another process; choose ${busy.length === 1 ? 'another' : 'others'} (or 0 for any free port): nothing was started`);
}

function listenError(e: unknown, what: string, flag: string): unknown {
  if (e instanceof ChorusError) return e;
  const text = `${(e as { code?: string } | undefined)?.code ?? ''} ${(e as Error | undefined)?.message ?? String(e)}`;
  if (/EADDRINUSE/.test(text)) return new ChorusError('unavailable', `${what} is in use by another process; choose another (${flag}, or 0 for any free port)`);
  if (/EACCES/.test(text)) return new ChorusError('unavailable', `${what} needs privileges this process does not have (ports below 1024); choose another (${flag})`);
  if (/EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(text)) return new ChorusError('bad_input', `${what} is not an address of this machine (${flag})`);
  if (/UnsupportedListenAddress|NoValidAddresses|InvalidMultiaddr/i.test(text)) return new ChorusError('bad_input', `${what} cannot be listened on: ${(e as Error).message.split('\n')[0]}`);
  return e;
}
