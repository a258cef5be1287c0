import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { isChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { DigestParams, ErrorBodySchema, PageQuery, PageSchema, QueryBody, QueryResult, ReputationQuery, ReputationResponse } from '../api-schemas.js';
import { summarize, type AppContext } from '../context.js';

/** Reads about model digests: the reputation view, the raw attestations, batch queries. */
export function modelRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/models/:digest/reputation', {
      schema: {
        summary: "This node's reputation view of a model digest, with its evidence",
        tags: ['models'],
        description: 'When the node holds nothing about the digest and joins the network, it first asks the DHT which nodes hold attestations about it and fetches them (bounded by net.lookupTimeoutSeconds); `lookup` says what that did.',
        params: DigestParams,
        querystring: ReputationQuery,
        response: { 200: ReputationResponse, 400: ErrorBodySchema },
      },
    }, async (req) => {
      const digest = parseDigest(req.params.digest);
      const view = await ctx.node.view(digest);
      if (!ctx.network || req.query.lookup === 'false' || Object.keys(view.byPredicate).length > 0) return view;
      const lookup = await ctx.network.lookup(digest);
      return { ...(lookup.accepted > 0 ? await ctx.node.view(digest) : view), lookup };
    });

    app.get('/v1/models/:digest/attestations', {
      schema: {
        summary: 'Attestations about a model digest, in arrival order',
        tags: ['models'],
        params: DigestParams,
        querystring: PageQuery,
        response: { 200: PageSchema, 400: ErrorBodySchema },
      },
    }, async (req) => {
      const page = await ctx.node.store.bySubject(parseDigest(req.params.digest), req.query);
      return { items: page.items.map(summarize), next: page.next ?? null };
    });

    app.post('/v1/query', {
      schema: {
        summary: 'Reputation views of up to 1,000 digests in one call (summaries; evidence: true for the listed attestations, once per distinct digest)',
        tags: ['models'],
        body: QueryBody,
        response: { 200: QueryResult, 400: ErrorBodySchema },
      },
    }, async (req) => {
      const policy = await ctx.node.trustPolicy();
      const now = Date.now();
      // Each distinct digest is viewed once, however often it is named; views run a few at a time.
      const views = new Map<string, ReturnType<typeof ctx.node.view>>();
      const viewOf = (digest: string): ReturnType<typeof ctx.node.view> => {
        let v = views.get(digest);
        if (v === undefined) views.set(digest, (v = ctx.node.view(digest, now, policy)));
        return v;
      };
      // Evidence is sent once per distinct digest: a digest named again gets its summary.
      const withEvidence = new Set<string>();
      const results = await Promise.all(req.body.digests.map(async (text) => {
        try {
          const digest = parseDigest(text);
          const view = await viewOf(digest);
          if (req.body.evidence && !withEvidence.has(digest)) {
            withEvidence.add(digest);
            return view;
          }
          // Without evidence: each predicate's summary and counts, not its attestations.
          const byPredicate = Object.fromEntries(Object.entries(view.byPredicate).map(([k, v]) => [k, { ...v, attestations: [] }]));
          return { ...view, byPredicate };
        } catch (e) {
          if (!isChorusError(e)) throw e;
          return { digest: text, error: { code: e.code, message: e.message } };
        }
      }));
      return { results };
    });
  };
}
