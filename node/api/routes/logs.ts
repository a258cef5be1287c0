import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChorusError } from '../../../src/errors.js';
import { ErrorBodySchema } from '../../service/contract.js';
import { LOG_PAGE } from '../../tlog/own-log.js';
import type { AppContext } from '../context.js';

const Did = z.string().max(100).describe('the issuer\'s did:key');
const Size = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const HexId = z.string().regex(/^[0-9a-f]{64}$/).describe('an attestation id (64 hex)');

/**
 * Issuer logs (SPEC §16): this node's own log — its signed checkpoint (a C2SP signed note,
 * as text), leaf ranges and proofs. Logs of other issuers are not mirrored yet: 404.
 */
export function logRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  const own = (did: string) => {
    const log = ctx.ownLog;
    if (log === undefined || did !== log.did) throw new ChorusError('not_found', `this node keeps only its own issuer log (${log?.did ?? 'none'}); logs of other issuers are not mirrored yet`);
    return log;
  };
  return async (app) => {
    app.get('/v1/issuers/:did/checkpoint', {
      schema: { summary: 'The newest signed checkpoint of an issuer\'s log (text/plain: a C2SP tlog-checkpoint in a signed note)', tags: ['logs'], params: z.object({ did: Did }), response: { 200: z.string(), 404: ErrorBodySchema } },
    }, async (req, reply) => {
      const note = await own(req.params.did).checkpoint();
      return reply.type('text/plain; charset=utf-8').send(note);
    });

    app.get('/v1/issuers/:did/log', {
      schema: {
        summary: `Leaf ids of an issuer's log, in order, from start (at most ${LOG_PAGE})`,
        tags: ['logs'],
        params: z.object({ did: Did }),
        querystring: z.strictObject({ start: Size.default(0), end: Size.optional() }),
        response: { 200: z.object({ start: z.int(), size: z.int(), ids: z.array(z.string()) }), 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }, async (req) => {
      const log = own(req.params.did);
      return { start: req.query.start, size: log.size, ids: log.leafIds(req.query.start, req.query.end) };
    });

    app.get('/v1/issuers/:did/proof/inclusion', {
      schema: {
        summary: 'An inclusion proof of an attestation in an issuer\'s log (RFC 9162), at the newest checkpoint\'s size by default',
        tags: ['logs'],
        params: z.object({ did: Did }),
        querystring: z.strictObject({ id: HexId, size: Size.optional() }),
        response: { 200: z.object({ index: z.int(), size: z.int(), proof: z.array(z.string()) }), 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }, async (req) => own(req.params.did).inclusion(req.query.id, req.query.size));

    app.get('/v1/issuers/:did/proof/consistency', {
      schema: {
        summary: 'A consistency proof between two sizes of an issuer\'s log (RFC 9162)',
        tags: ['logs'],
        params: z.object({ did: Did }),
        querystring: z.strictObject({ from: Size, to: Size }),
        response: { 200: z.object({ proof: z.array(z.string()) }), 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }, async (req) => ({ proof: own(req.params.did).consistency(req.query.from, req.query.to) }));
  };
}
