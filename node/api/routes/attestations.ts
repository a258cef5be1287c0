import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChorusError } from '../../../src/errors.js';
import { kindOfType } from '../../../src/statement/predicates.js';
import { buildStatement } from '../../../src/statement/build.js';
import { signStatement } from '../../../src/statement/sign.js';
import type { Envelope } from '../../../src/statement/statement.js';
import { importLines } from '../../ingest/import-lines.js';
import {
  AttestationDetailSchema, ErrorBodySchema, IdParams, ImportResult, ListQuery, PageSchema, PublishBody, PublishResult,
} from '../../service/contract.js';
import type { AppContext, Guards } from '../context.js';
import { statusOf } from '../http-errors.js';

/** Publishing, importing, and reading single attestations. */
export function attestationRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/attestations/:id', {
      schema: {
        summary: 'One stored attestation, with its statement and any retractions of it',
        tags: ['attestations'],
        params: IdParams,
        response: { 200: AttestationDetailSchema, 404: ErrorBodySchema },
      },
    }, (req) => ctx.service.detail(req.params.id));

    app.get('/v1/attestations', {
      schema: {
        summary: 'Stored attestations in arrival order, optionally by one issuer; with `before`, the newest first',
        tags: ['attestations'],
        querystring: ListQuery,
        response: { 200: PageSchema, 400: ErrorBodySchema },
      },
    }, (req) => {
      const { issuer, ...q } = req.query;
      return ctx.service.list({ issuer }, q);
    });

    app.post('/v1/attestations', {
      schema: {
        summary: 'Publish an attestation: a pre-signed DSSE envelope, or {statement} for this node to sign',
        description: 'Both go through the one ingest path. 201 stored; 200 already stored (duplicate); 422 not stored (rejected or ignored, with the code); 507 storage_full: the node\'s disk is full.',
        tags: ['attestations'],
        security: [{ bearer: [] }],
        body: PublishBody,
        response: { 200: PublishResult, 201: PublishResult, 401: ErrorBodySchema, 409: ErrorBodySchema, 413: ErrorBodySchema, 422: ErrorBodySchema, 429: ErrorBodySchema, 507: ErrorBodySchema },
      },
      // The token is checked before the body is even parsed.
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, async (req, reply) => {
      let envelope: Envelope;
      let signed = false;
      if ('statement' in req.body) {
        const st = req.body.statement;
        const kind = kindOfType(st.predicateType);
        if (kind === undefined) throw new ChorusError('bad_input', `the node signs only known predicate types; ${st.predicateType} is not one`);
        const { issuer, issuedAt, expiresAt: _e, ...fields } = st.predicate;
        void issuedAt;
        if (issuer !== undefined && issuer !== ctx.node.identity.did) {
          throw new ChorusError('conflict', `the statement names issuer ${String(issuer)}, but this node signs as ${ctx.node.identity.did}`);
        }
        const now = new Date();
        envelope = signStatement(buildStatement({
          kind,
          subjects: st.subject,
          fields,
          issuer: ctx.node.identity.did,
          issuedAt: now,
          ...(st.expiresAt === undefined ? {} : { expiresAt: new Date(st.expiresAt) }),
        }), ctx.node.identity.secretKey);
        signed = true;
      } else {
        envelope = req.body;
      }
      const d = await ctx.node.ingestor.ingest(JSON.stringify(envelope));
      ctx.health.noteDecisions([d]);
      if (d.outcome === 'accept') return reply.code(201).send({ outcome: d.outcome, code: d.code, id: d.id, ...(signed ? { envelope } : {}) });
      if (d.code === 'duplicate') return reply.code(200).send({ outcome: d.outcome, code: d.code, ...(d.id ? { id: d.id } : {}), message: d.message });
      return reply.code(statusOf(d.code) as 422).send({ code: d.code, message: d.message, details: { outcome: d.outcome, ...(d.id ? { id: d.id } : {}), ...(d.details ?? {}) } });
    });

    app.post('/v1/import', {
      schema: {
        summary: 'Import a JSON Lines bundle of DSSE envelopes (Content-Type: application/x-ndjson), streamed',
        tags: ['attestations'],
        security: [{ bearer: [] }],
        querystring: z.strictObject({ show: z.coerce.number().int().min(0).max(10_000).default(20) }),
        response: { 200: ImportResult, 401: ErrorBodySchema, 413: ErrorBodySchema, 415: ErrorBodySchema, 507: ErrorBodySchema },
      },
      // The token is checked before the body is even parsed.
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, async (req) => {
      const stream = req.body as unknown as Readable;
      if (typeof (stream as { pipe?: unknown })?.pipe !== 'function') throw new ChorusError('unsupported_media_type', 'send the bundle as application/x-ndjson');
      const tally = await importLines(ctx.node.ingestor, stream, { maxEnvelopeBytes: ctx.node.limits.maxEnvelopeBytes, maxTotalBytes: ctx.node.config.api.importLimitBytes, show: req.query.show });
      const full = tally.byCode['storage_full'] ?? 0;
      if (full > 0) {
        ctx.health.storageFull();
        throw new ChorusError('storage_full', `the node's disk is full: ${full} of ${tally.lines} lines were not stored (${tally.accepted} were); free space and import again`, { ...tally });
      }
      return tally;
    });
  };
}

