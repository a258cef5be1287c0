import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { loadTrust, replaceTrust } from '../../home/trust-list.js';
import { VERSION } from '../../version.js';
import { ConnectBody, ConnectResult, ErrorBodySchema, HealthSchema, PeersView, StatusSchema, TrustPut, TrustView } from '../api-schemas.js';
import { ChorusError } from '../../../src/errors.js';
import type { AppContext, Guards } from '../context.js';

/** Trust list, status, health. */
export function adminRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  const trustView = async () => {
    const t = await loadTrust(ctx.node.home.trust);
    return { self: ctx.node.config.trust.includeSelf ? ctx.node.identity.did : null, issuers: t.issuers };
  };
  return async (app) => {
    app.get('/v1/trust', {
      schema: { summary: "This node's trust list: whose attestations count", tags: ['trust'], response: { 200: TrustView } },
    }, trustView);

    app.put('/v1/trust', {
      schema: {
        summary: 'Replace the trust list',
        tags: ['trust'],
        security: [{ bearer: [] }],
        body: TrustPut,
        response: { 200: TrustView, 400: ErrorBodySchema, 401: ErrorBodySchema },
      },
      // The token is checked before the body is even parsed.
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, async (req) => {
      const { issuers } = await replaceTrust(ctx.node.home.trust, req.body.issuers, new Date());
      ctx.node.trustChanged();
      req.log.info({ trusted: issuers.length }, 'trust list replaced');
      return trustView();
    });

    app.get('/v1/status', {
      schema: { summary: 'Identity, version, store counts, uptime (the data dir only with the API token)', tags: ['node'], response: { 200: StatusSchema } },
    }, async (req) => ({
      version: VERSION,
      did: ctx.node.identity.did,
      // A path on this machine is for its operator, not for whoever can read the API.
      ...(guards.authed(req) ? { home: ctx.node.home.root } : {}),
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      attestations: ctx.node.store.size,
      lastSeq: ctx.node.store.lastSeq,
      storeBytes: await ctx.node.store.diskBytes(),
      trustedIssuers: (await ctx.node.trustPolicy()).trusted.size,
      api: { url: ctx.url, requireTokenForReads: ctx.node.config.api.requireTokenForReads },
      network: ctx.network
        ? {
            peerId: ctx.network.peerId,
            listen: ctx.network.listenAddrs,
            peers: (await ctx.network.peers()).length,
            reachability: ctx.network.reachability(),
            providers: ctx.network.providerStats ?? null,
          }
        : null,
    }));

    const network = () => {
      if (!ctx.network) throw new ChorusError('unavailable', 'this node does not join the network (net.enabled is false)');
      return ctx.network;
    };
    app.get('/v1/peers', {
      schema: { summary: 'Connected peers: id, address, latency, gossip score', tags: ['network'], response: { 200: PeersView, 503: ErrorBodySchema } },
    }, async () => ({ peers: await network().peers() }));

    app.post('/v1/peers', {
      schema: {
        summary: 'Connect to a peer (and keep the connection)',
        tags: ['network'],
        security: [{ bearer: [] }],
        body: ConnectBody,
        response: { 200: ConnectResult, 400: ErrorBodySchema, 401: ErrorBodySchema, 503: ErrorBodySchema },
      },
      onRequest: guards.write,
    }, async (req) => ({ peerId: await network().connect(req.body.multiaddr) }));

    app.get('/healthz', {
      schema: { summary: 'Health: 200 {ok:true}; 503 {ok:false, status:"degraded", reason} while writes fail (storage_full: the disk is full)', tags: ['node'], response: { 200: HealthSchema, 503: HealthSchema } },
      config: { public: true },
    }, async (_req, reply) => {
      const reason = ctx.health.degraded;
      if (reason === undefined) return { ok: true };
      return reply.code(503).send({ ok: false, status: 'degraded', reason });
    });

    app.get('/metrics', {
      schema: { summary: 'Prometheus metrics (text format)', tags: ['node'] },
    }, async (_req, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}
