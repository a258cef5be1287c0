import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChorusError } from '../../../src/errors.js';
import { publicKeyFromDidKey } from '../../../src/identity/did-key.js';
import { LogCompletenessSchema } from '../../../src/reputation/view-schema.js';
import { ErrorBodySchema } from '../../service/contract.js';
import { LOG_PAGE } from '../../tlog/own-log.js';
import type { AppContext, Guards } from '../context.js';

const Did = z.string().max(100).describe('the issuer\'s did:key');
const Size = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const HexId = z.string().regex(/^[0-9a-f]{64}$/).describe('an attestation id (64 hex)');
const Equivocation = z.object({ type: z.literal('chorus-equivocation/v1'), a: z.string(), b: z.string(), nodes: z.array(z.string()).readonly() });
const LogVerify = z.object({
  completeness: LogCompletenessSchema,
  missingIds: z.array(z.string()).describe('ids of statements known and not held (at most 100)'),
  fetched: z.object({ leaves: z.int(), envelopes: z.int() }).describe('what this request fetched from peers'),
  equivocation: Equivocation.nullable(),
});

/**
 * Issuer logs (SPEC §16): this node's own log and the logs it mirrors — checkpoints (C2SP
 * signed notes, as text, with the cosignatures held), leaf ranges, proofs — plus the
 * completeness of a mirrored log and the equivocation proofs this node holds.
 */
export function logRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  const own = (did: string) => (ctx.ownLog !== undefined && did === ctx.ownLog.did ? ctx.ownLog : undefined);
  const mirrored = (did: string) => {
    if (ctx.mirror === undefined || ctx.mirror.size(did) === 0) throw new ChorusError('not_found', `no verified log of ${did.slice(0, 100)} is held here (this node mirrors the logs of the issuers that count in its view)`);
    return ctx.mirror;
  };
  const verify = async (did: string, fetch: boolean) => {
    // A did that is not one is refused here: it must never reach a peer in a request.
    if (publicKeyFromDidKey(did) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${did.slice(0, 100)}"`);
    const m = ctx.mirror;
    if (m === undefined) throw new ChorusError('unavailable', 'issuer logs are not kept by this node');
    const before = ctx.network?.logSync?.stats;
    const [leaves0, env0] = [before?.leavesFetched ?? 0, before?.envelopesFetched ?? 0];
    if (fetch && ctx.network?.logSync && did !== ctx.ownLog?.did) await ctx.network.logSync.catchUp(did);
    const after = ctx.network?.logSync?.stats;
    return {
      completeness: m.completeness(did),
      missingIds: m.missingIds(did, 100),
      fetched: { leaves: (after?.leavesFetched ?? 0) - leaves0, envelopes: (after?.envelopesFetched ?? 0) - env0 },
      equivocation: m.equivocation(did) ?? null,
    };
  };
  return async (app) => {
    app.get('/v1/issuers/:did/checkpoint', {
      schema: { summary: 'The newest signed checkpoint of an issuer\'s log (text/plain: a C2SP tlog-checkpoint in a signed note, with the cosignatures held as further signature lines)', tags: ['logs'], params: z.object({ did: Did }), response: { 200: z.string(), 404: ErrorBodySchema } },
    }, async (req, reply) => {
      const o = own(req.params.did);
      const note = o ? await o.checkpoint() : ctx.mirror?.note(req.params.did);
      if (note === undefined) throw new ChorusError('not_found', `no checkpoint of ${req.params.did.slice(0, 100)} is held here`);
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
      const { start, end } = req.query;
      const o = own(req.params.did);
      if (o) return { start, size: o.size, ids: o.leafIds(start, end) };
      const m = mirrored(req.params.did);
      const size = m.size(req.params.did);
      const stop = Math.min(end ?? size, start + LOG_PAGE);
      if (start > size || stop < start || (end !== undefined && end > size)) throw new ChorusError('bad_input', `a log range is 0 ≤ start ≤ end ≤ ${size}`);
      return { start, size, ids: await m.leafIds(req.params.did, start, stop) };
    });

    app.get('/v1/issuers/:did/proof/inclusion', {
      schema: {
        summary: 'An inclusion proof of an attestation in an issuer\'s log (RFC 9162), at the newest checkpoint\'s size by default',
        tags: ['logs'],
        params: z.object({ did: Did }),
        querystring: z.strictObject({ id: HexId, size: Size.optional() }),
        response: { 200: z.object({ index: z.int(), size: z.int(), proof: z.array(z.string()) }), 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }, async (req) => {
      const o = own(req.params.did);
      if (o) return o.inclusion(req.query.id, req.query.size);
      if (req.query.size !== undefined) throw new ChorusError('bad_input', 'a mirrored log proves inclusion at its verified size only');
      return mirrored(req.params.did).inclusion(req.params.did, req.query.id);
    });

    app.get('/v1/issuers/:did/proof/consistency', {
      schema: {
        summary: 'A consistency proof between two sizes of an issuer\'s log (RFC 9162)',
        tags: ['logs'],
        params: z.object({ did: Did }),
        querystring: z.strictObject({ from: Size, to: Size }),
        response: { 200: z.object({ proof: z.array(z.string()) }), 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }, async (req) => {
      const o = own(req.params.did);
      if (o) return { proof: o.consistency(req.query.from, req.query.to) };
      return { proof: await mirrored(req.params.did).consistency(req.params.did, req.query.from, req.query.to) };
    });

    app.get('/v1/issuers/:did/log/status', {
      schema: { summary: 'How complete this node\'s copy of an issuer\'s log is, and what it lacks (SPEC §16.4)', tags: ['logs'], params: z.object({ did: Did }), response: { 200: LogVerify, 400: ErrorBodySchema, 503: ErrorBodySchema } },
    }, async (req) => verify(req.params.did, false));

    app.post('/v1/issuers/:did/log/verify', {
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
      schema: { summary: 'Completes this node\'s copy of an issuer\'s log from its peers now (leaves verified against the signed root, then the missing statements), and says what it fetched and what is still missing', tags: ['logs'], params: z.object({ did: Did }), response: { 200: LogVerify, 400: ErrorBodySchema, 401: ErrorBodySchema, 503: ErrorBodySchema } },
    }, async (req) => verify(req.params.did, true));

    app.get('/v1/equivocations', {
      schema: { summary: 'Equivocation proofs this node holds: pairs of checkpoints one issuer signed that cannot both be true (SPEC §16.5)', tags: ['logs'], response: { 200: z.object({ items: z.array(z.object({ issuer: z.string(), proof: Equivocation })) }) } },
    }, async () => ({ items: ctx.mirror?.equivocations(1000) ?? [] }));

    app.post('/v1/equivocations', {
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
      schema: { summary: 'Submits an equivocation proof: verified (two signatures, at most ⌈log₂ n⌉+1 hashes), stored and gossiped; one that does not prove an equivocation is refused', tags: ['logs'], body: z.unknown(), response: { 200: z.object({ issuer: z.string(), added: z.boolean() }), 400: ErrorBodySchema, 401: ErrorBodySchema, 422: ErrorBodySchema } },
    }, async (req) => {
      if (ctx.mirror === undefined) throw new ChorusError('unavailable', 'issuer logs are not kept by this node');
      return ctx.mirror.addEquivocation(req.body);
    });
  };
}
