import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CheckResultSchema } from '../../service/check.js';
import { AttestationSummarySchema, DerivedModels, DigestParams, ErrorBodySchema, PageQuery, PageSchema, QueryBody, QueryResult, ReputationQuery, ReputationResponse } from '../../service/contract.js';
import type { AppContext, Guards } from '../context.js';

const RESULTS_OPEN = Buffer.from('{"results":[');
const COMMA = Buffer.from(',');
const RESULTS_CLOSE = Buffer.from(']}');

/**
 * Sends JSON that is already serialized (the response schema's shape, made from the same
 * objects): no second serialization, no validation on the way out.
 */
function sendJson(reply: FastifyReply, json: Buffer | string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

/** Reads about model digests: the reputation view, the raw attestations, batch queries. */
export function modelRoutes(ctx: AppContext, guards: Pick<Guards, 'readsPrivate'>): FastifyPluginAsyncZod {
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
    // `local` names files on this machine: only for the token or a logged-in page, like /v1/scan/last.
    }, async (req, reply) => {
      const answer = await ctx.service.viewAnswer(req.params.digest, { without: req.query.without, lookup: req.query.lookup !== 'false', local: guards.readsPrivate(req) });
      // A kept view's bytes, made once (issue 24); otherwise the view, serialized as usual.
      return answer.json === undefined ? answer.view : sendJson(reply as FastifyReply, answer.json);
    });

    app.get('/v1/models/:digest/attestations', {
      schema: {
        summary: 'Attestations about a model digest, in arrival order',
        tags: ['models'],
        params: DigestParams,
        querystring: PageQuery,
        response: { 200: PageSchema, 400: ErrorBodySchema },
      },
    }, (req) => ctx.service.list({ subject: req.params.digest }, req.query));

    app.get('/v1/models/:digest/derived', {
      schema: {
        summary: 'Models derived from this one, by the lineage claims that name it as their base (of the newest 1,000: those that count, then 20 others)',
        tags: ['models'],
        params: DigestParams,
        response: { 200: DerivedModels, 400: ErrorBodySchema },
      },
    }, (req) => ctx.service.derived(req.params.digest));

    app.post('/v1/query', {
      schema: {
        summary: 'Reputation views of up to 1,000 digests in one call (summaries: no attestations listed, and of completeness only the issuers whose logs are not complete, at most 10; evidence: true for the whole view, once per distinct digest)',
        tags: ['models'],
        body: QueryBody,
        response: { 200: QueryResult, 400: ErrorBodySchema },
      },
    }, async (req, reply) => {
      const answers = await ctx.service.queryAnswer(req.body.digests, { evidence: req.body.evidence, without: req.body.without });
      // Kept views' summaries are joined as made once (issue 24), as bytes: no second
      // serialization, and no scan of a multi-megabyte string for its length and encoding.
      const parts: Buffer[] = [RESULTS_OPEN];
      answers.forEach((answer, i) => {
        if (i > 0) parts.push(COMMA);
        parts.push(answer.json ?? Buffer.from(JSON.stringify(answer.item)));
      });
      parts.push(RESULTS_CLOSE);
      return sendJson(reply as FastifyReply, Buffer.concat(parts));
    });

    app.post('/v1/check', {
      schema: {
        summary: 'The gate: may this model be loaded? (check.mode deny-flagged or allowlist; files are inspected by the CLI)',
        tags: ['models'],
        body: z.strictObject({ digest: z.string().max(80) }),
        response: { 200: CheckResultSchema, 400: ErrorBodySchema },
      },
    }, (req) => ctx.service.check(req.body.digest));

    app.get('/v1/approvals', {
      schema: { summary: 'Approvals by the configured approvers (check.approvers), newest first', tags: ['models'], response: { 200: z.object({ items: z.array(AttestationSummarySchema) }) } },
    }, async () => ({ items: await ctx.service.approved() }));
  };
}
