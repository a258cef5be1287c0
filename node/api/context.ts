import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LocalNode } from '../local/local-node.js';
import type { EventHub } from './event-hub.js';
import type { Health } from './health.js';
import type { Metrics } from './metrics.js';
import type { NodeService } from '../service/node-service.js';
import type { StatusWatch } from '../service/status-watch.js';
import type { Network } from '../net/network.js';
import type { OwnLog } from '../tlog/own-log.js';
import type { Mirror } from '../tlog/mirror.js';
import type { FailureScope, WebSessions } from './web-ui/sessions.js';

/** Everything the API's handlers use, built once at start. */
export interface AppContext {
  readonly node: LocalNode;
  /** The node's operations (the same the in-process client calls). */
  readonly service: NodeService;
  /** Status changes of digests in this node's view (status events). */
  readonly statusWatch: StatusWatch;
  readonly token: string;
  readonly events: EventHub;
  readonly metrics: Metrics;
  readonly health: Health;
  /** This node's own issuer log (SPEC §16). */
  readonly ownLog?: OwnLog;
  /** Web login codes and sessions, shared by the loopback and the LAN server. */
  readonly sessions?: WebSessions;
  /** The LAN server's address and certificate fingerprint, when `api.lan` is on. */
  lan?: { url: string; fingerprint: string };
  /** The logs of other issuers this node mirrors (SPEC §16.3). */
  readonly mirror?: Mirror;
  /** The peer-to-peer side, when net.enabled. */
  readonly network: Network | undefined;
  /** Set once the server listens. */
  url: string;
}

export { summarize } from '../service/node-service.js';

/** Hooks that protect write routes: the token check and the per-client rate limit; and the token check alone. */
export interface Guards {
  readonly write: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** Whether the request carries the API token (a wrong one counts as a failed login, and none is taken while they wait). */
  readonly authed: (req: FastifyRequest) => boolean;
  /** Whether the request may read what names this machine's files (the local scan): the token, or a logged-in page with its secret. */
  readonly readsPrivate: (req: FastifyRequest) => boolean;
  /** Which server this is, for the failed-login bounds. */
  readonly scope: FailureScope;
  /** Whether reads need the token or a logged-in page here (the LAN server: always). */
  readonly readsNeedToken: boolean;
  readonly writeLimit: { max: number; timeWindow: string };
}
