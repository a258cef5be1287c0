import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ConnectBody, ConnectResult, DidParams, ErrorBodySchema, HealthSchema, IssuerView, PeersView, StatusSchema, TrustEdit, TrustEditResult, TrustGraphView, TrustPut, TrustView,
} from '../../service/contract.js';
import { ChorusError } from '../../../src/errors.js';
import type { AppContext, Guards } from '../context.js';

/** Trust policy and graph, issuers, status, peers, health. */
export function adminRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  const { service } = ctx;
  return async (app) => {
    app.get('/v1/trust', {
      schema: { summary: "This node's trust policy: roots (with scope and weight), blocks, subscriptions, parameters", tags: ['trust'], response: { 200: TrustView } },
    }, () => service.trust());

    app.put('/v1/trust', {
      schema: {
        summary: 'Replace the roots (an issuer list) or the whole policy: entries not in the body are gone (`removed` lists them); POST /v1/trust changes one entry',
        tags: ['trust'],
        security: [{ bearer: [] }],
        body: TrustPut,
        response: { 200: TrustView.extend({ removed: z.array(z.object({ issuer: z.string(), was: z.enum(['root', 'block', 'subscription']) })).describe('entries the replacement removed') }), 400: ErrorBodySchema, 401: ErrorBodySchema },
      },
      // The token is checked before the body is even parsed.
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, async (req) => {
      const t = await service.setTrust(req.body);
      req.log.info({ roots: t.policy.roots.length, removed: t.removed.length }, 'trust policy replaced');
      return t;
    });

    app.post('/v1/trust', {
      schema: {
        summary: 'Change one entry: trust (scope, weight), block, subscribe, remove',
        tags: ['trust'],
        security: [{ bearer: [] }],
        body: TrustEdit,
        response: { 200: TrustEditResult, 400: ErrorBodySchema, 401: ErrorBodySchema },
      },
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, (req) => service.editTrust(req.body));

    app.get('/v1/trust/graph', {
      schema: { summary: 'Your trust graph: roots, reach per kind, the most trusted issuers', tags: ['trust'], response: { 200: TrustGraphView } },
    }, () => service.trustGraph());

    app.get('/v1/issuers/:did', {
      schema: {
        summary: 'An issuer: your trust in it per kind with its paths, who endorses it, whom it endorses, what it published',
        tags: ['trust'],
        params: DidParams,
        response: { 200: IssuerView, 400: ErrorBodySchema },
      },
    }, (req) => service.issuer(req.params.did));

    app.get('/v1/status', {
      schema: { summary: 'Identity, version, store counts, uptime (the data dir only with the API token)', tags: ['node'], response: { 200: StatusSchema } },
    }, (req) => service.status({ withHome: guards.authed(req) }));

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
