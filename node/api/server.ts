import { timingSafeEqual } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest,
  type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault,
} from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors, jsonSchemaTransform, validatorCompiler, type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { ChorusError } from '../../src/errors.js';
import { VERSION } from '../version.js';
import type { AppContext } from './context.js';
import { statusOf, type ErrorBody } from './http-errors.js';
import { hostAllowed } from './host-check.js';
import { isNoSpace } from '../store/disk-full.js';
import { adminRoutes } from './routes/admin.js';
import { attestationRoutes } from './routes/attestations.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { modelRoutes } from './routes/models.js';
import { tooManyFailures, WebSessions } from './web-ui/sessions.js';
import { isWebShell, webRoutes } from './web-ui/web-routes.js';
import { scanRoutes } from './routes/scan.js';

/** The server as built: Fastify on node:http with the zod type provider. */
export type ChorusServer = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Fastify's own error codes, mapped to ours. */
function fromFastify(err: { code?: string; statusCode?: number; message: string }): ErrorBody & { status: number } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'too_large', message: 'request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: 'unsupported Content-Type; send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'malformed_json', message: 'the JSON body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'malformed_json', message: `the body is not valid JSON: ${err.message}` };
    default:
      if (err.statusCode === 400 && err instanceof SyntaxError) return { status: 400, code: 'malformed_json', message: `the body is not valid JSON: ${err.message}` };
      if (err.statusCode === 429) return { status: 429, code: 'rate_limited', message: err.message };
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, code: 'bad_input', message: err.message };
      return { status: 500, code: 'io_error', message: 'internal error' };
  }
}

/**
 * The local HTTP API on Fastify. Routes validate with the zod schemas of node/service/contract.ts,
 * which also generate the OpenAPI 3.1 document at /v1/openapi.json.
 */
/**
 * The LAN server's differences (issue 22): HTTPS with the node's own certificate, the host
 * names and addresses it answers to, a login for everything (reads included), and the web
 * sessions it shares with the loopback server (a pairing code minted there works here).
 */
export interface LanOptions {
  readonly https: { key: string; cert: string };
  readonly bindHost: string;
  readonly names: readonly string[];
  readonly sessions: WebSessions;
}

export async function buildServer(ctx: AppContext, logger: Logger, lan?: LanOptions): Promise<ChorusServer> {
  const api = lan === undefined ? ctx.node.config.api : { ...ctx.node.config.api, host: lan.bindHost, allowedHosts: [...ctx.node.config.api.allowedHosts, ...lan.names], requireTokenForReads: true };
  const app = Fastify({
    // The LAN server: anyone on the network can open connections, so each one is bounded in
    // time (a TLS handshake in 10 s, a whole request in 2 min, 60 s idle; event streams send a
    // heartbeat every 15 s) and in number (lanConnectionCap below).
    ...(lan === undefined ? {} : { https: { ...lan.https, handshakeTimeout: LAN_LIMITS.handshakeMs }, connectionTimeout: LAN_LIMITS.idleMs, requestTimeout: LAN_LIMITS.requestMs }),
    loggerInstance: logger as unknown as FastifyBaseLogger,
    bodyLimit: api.bodyLimitBytes,
    // Per-request logs would dominate a busy node's output; latency goes to /metrics.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Responses are our own data, already typed; plain JSON keeps the hot path fast.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.removeContentTypeParser('text/plain');
  // Bulk import streams NDJSON straight into the ingest path.
  app.addContentTypeParser('application/x-ndjson', (_req, payload, done) => done(null, payload));

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    let body: ErrorBody;
    let status: number;
    if (isNoSpace(err)) {
      // A write the disk had no room for: degraded until a write succeeds (health.ts).
      ctx.health.storageFull();
      status = 507;
      body = { code: 'storage_full', message: 'the node\'s disk is full: nothing was stored; free space and retry' };
      req.log.error({ err }, 'write failed: no space left on the device');
    } else if (err instanceof ChorusError) {
      if (err.code === 'storage_full') ctx.health.storageFull();
      status = statusOf(err.code);
      body = { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
    } else if (hasZodFastifySchemaValidationErrors(err)) {
      status = 400;
      const issues = err.validation.slice(0, 10).map((v) => ({ path: v.instancePath, message: v.message ?? 'invalid' }));
      const first = issues[0];
      body = { code: 'bad_input', message: `invalid request ${err.validationContext ?? ''}${first ? ` at "${first.path || '/'}": ${first.message}` : ''}`.trim(), details: { issues } };
    } else {
      const m = fromFastify(err);
      status = m.status;
      body = { code: m.code, message: m.message };
      if (status >= 500) req.log.error({ err }, 'request failed');
    }
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  // DNS rebinding: a page on another origin reaches this node under a name its attacker
  // controls, and the Host header still names it (host-check.ts).
  const hostPolicy = { bindHost: api.host, allowedHosts: api.allowedHosts };
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (hostAllowed(host, hostPolicy)) return;
    return reply.code(421).send({
      code: 'forbidden_host',
      message: `this node does not answer to the host name ${JSON.stringify(host)}; use 127.0.0.1 or localhost, or add the name to api.allowedHosts`,
    });
  });

  // A request answered before its body was read (a 401, 413, or an import that failed
  // half way) closes its connection once the answer is sent: reading a body nobody wants
  // would hold the socket, and server.close() at SIGTERM would wait for it forever.
  app.addHook('onSend', async (req, reply) => {
    if (!req.raw.complete) void reply.header('connection', 'close');
  });

  // Metrics: latency per route.
  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const unauthorized = (reply: FastifyReply, why: string) => reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'unauthorized', message: why });
  // Browsers logged in with `chorus ui` write with their session cookie and its CSRF token (node/api/web-ui/).
  const sessions = lan?.sessions ?? ctx.sessions ?? new WebSessions();
  const write = async (req: FastifyRequest, reply: FastifyReply) => {
    const t = bearer(req);
    if (t === undefined && sessions.hasCookie(req)) {
      const w = sessions.checkWrite(req);
      if (w.ok) return;
      if (w.status === 401) return unauthorized(reply, w.message);
      return reply.code(w.status).send({ code: w.code, message: w.message });
    }
    if (t === undefined) return unauthorized(reply, 'writes need the API token: Authorization: Bearer <token from api-token in the data dir>');
    if (!tokenOk(req, reply, t)) return reply;
  };
  /** Checks a bearer token; wrong ones are bounded per address and node-wide like failed logins (429 past it). */
  const scope = lan === undefined ? 'local' as const : 'lan' as const;
  const tokenOk = (req: FastifyRequest, reply: FastifyReply, t: string): boolean => {
    const wait = sessions.loginWait(req.ip, scope);
    if (wait > 0) {
      void tooManyFailures(reply, wait);
      return false;
    }
    if (sameToken(t, ctx.token)) return true;
    sessions.failed(req.ip, scope);
    void unauthorized(reply, 'wrong API token');
    return false;
  };
  if (api.requireTokenForReads) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.config && (req.routeOptions.config as { public?: boolean }).public) return;
      // The page shell holds no data; a logged-in tab (cookie and its CSRF secret) reads like
      // the token. The cookie alone does not: browsers send it to every port of 127.0.0.1.
      if (isWebShell(req.url) || sessions.canRead(req)) return;
      const t = bearer(req);
      if (t === undefined) {
        return unauthorized(reply, sessions.hasCookie(req)
          ? 'a logged-in page sends its CSRF secret with every request here: the session cookie alone reads and writes nothing'
          : 'this node requires the API token for reads');
      }
      if (!tokenOk(req, reply, t)) return reply;
    });
  }

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, c) => ({ statusCode: 429, code: 'rate_limited', message: `too many writes: at most ${c.max} per ${c.after === undefined ? 'minute' : 'minute'}; retry in ${c.after}` }),
  });
  if (api.corsOrigins.length > 0) await app.register(cors, { origin: api.corsOrigins });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Chorus node API', version: VERSION, description: 'Local HTTP API of a Chorus node: reputation views of model digests, attestations, events, trust.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in the data dir\'s api-token file' } } },
    },
    transform: jsonSchemaTransform,
  });
  app.get('/v1/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  const authed = (req: FastifyRequest): boolean => {
    const t = bearer(req);
    if (t === undefined || sessions.loginWait(req.ip, scope) > 0) return false;
    if (sameToken(t, ctx.token)) return true;
    sessions.failed(req.ip, scope);
    return false;
  };
  const readsPrivate = (req: FastifyRequest): boolean => sessions.canRead(req) || authed(req);
  const guards = { write, authed, readsPrivate, scope, readsNeedToken: api.requireTokenForReads, writeLimit: { max: api.writeRateLimitPerMinute, timeWindow: '1 minute' } };
  await app.register(modelRoutes(ctx, guards));
  await app.register(attestationRoutes(ctx, guards));
  await app.register(eventRoutes(ctx, guards));
  await app.register(logRoutes(ctx, guards));
  await app.register(adminRoutes(ctx, guards));
  await app.register(scanRoutes(ctx, guards));
  await app.register(webRoutes(ctx, guards, sessions));
  if (lan !== undefined) lanConnectionCap(app.server);
  return app;
}

/** What one LAN connection may take (issue 22: a stranger on the LAN is bounded like one on the Internet). */
export const LAN_LIMITS = {
  handshakeMs: 10_000,
  requestMs: 120_000,
  idleMs: 60_000,
  /** Open connections in all, and from one address: past them a new connection is closed at once. */
  connections: 256,
  connectionsPerAddress: 32,
} as const;

/**
 * Caps the LAN server's open connections, in all and per address, so no client on the LAN
 * can take the node's file descriptors (the loopback API keeps answering). The map holds only
 * addresses with open connections: at most LAN_LIMITS.connections entries.
 */
function lanConnectionCap(server: import('node:net').Server): void {
  server.maxConnections = LAN_LIMITS.connections;
  const open = new Map<string, number>();
  server.on('connection', (socket: import('node:net').Socket) => {
    const addr = socket.remoteAddress ?? '';
    const n = open.get(addr) ?? 0;
    if (n >= LAN_LIMITS.connectionsPerAddress) {
      socket.destroy();
      return;
    }
    open.set(addr, n + 1);
    socket.once('close', () => {
      const left = (open.get(addr) ?? 1) - 1;
      if (left <= 0) open.delete(addr);
      else open.set(addr, left);
    });
  });
}
