import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChorusError } from '../../../src/errors.js';
import { ErrorBodySchema } from '../../service/contract.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import type { StoredAttestation } from '../../store/attestation-store.js';
import { summarize, type AppContext } from '../context.js';
import type { EventHub } from '../event-hub.js';

const HEARTBEAT_MS = 15_000;
// Small pages: a stalled client holds one decoded page in memory while it waits.
const PAGE = 16;
/** Most bytes a client may have waiting in its response buffer before it is disconnected. */
export const MAX_BUFFERED_BYTES = 256 * 1024;

type Wake = 'drain' | 'event' | 'timeout' | 'close';

/** Waits for the client to drain its buffer, for new events, or for the heartbeat. */
function wake(res: ServerResponse, hub: EventHub, ms: number): Promise<Wake> {
  return new Promise((resolve) => {
    const ac = new AbortController();
    const done = (why: Wake): void => {
      ac.abort();
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(why);
    };
    const onDrain = (): void => done('drain');
    const onClose = (): void => done('close');
    res.on('drain', onDrain);
    res.on('close', onClose);
    void hub.wait(ms, ac.signal).then((why) => {
      if (!ac.signal.aborted) done(why);
    });
  });
}

/**
 * Server-Sent Events: every accepted attestation, resumable from an arrival-sequence
 * cursor. Each client keeps only its cursor: it reads the store page by page, and while
 * a client has not drained its buffer, only new events or the heartbeat make the stream
 * write more. A client whose buffer grows past MAX_BUFFERED_BYTES (it stopped reading) is
 * disconnected; it can resume with Last-Event-ID. At most api.maxEventStreams run at once.
 */
export function eventRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  let streams = 0;
  return async (app) => {
    app.get('/v1/events', {
      schema: {
        summary: 'Stream of newly accepted attestations and of status changes in this view (text/event-stream), with backfill from ?cursor=N',
        description: 'Attestations: `id: <seq>`, `event: attestation`, `data: <attestation summary JSON>`; reconnect with ?cursor= or Last-Event-ID to resume. Status changes: `event: status`, `data: {digest, old, new, reason, at}` when a digest this node has answered about changes status in its view (from the moment the stream opens). Filters: ?subject=, ?counting=true, ?status=false. A client that stops reading is disconnected once 256 KiB wait for it; 503 when api.maxEventStreams streams are open.',
        tags: ['events'],
        querystring: z.strictObject({
          cursor: z.coerce.number().int().min(0).optional().describe('arrival sequence to resume after; default: only new events'),
          subject: z.string().max(80).optional().describe('only attestations about this digest (and its status changes)'),
          counting: z.enum(['true', 'false']).optional().describe('true: only attestations by issuers that count in your view'),
          status: z.enum(['true', 'false']).optional().describe('false: no status events'),
        }),
        response: { 503: ErrorBodySchema },
      },
    }, async (req, reply) => {
      const max = ctx.node.config.api.maxEventStreams;
      if (streams >= max) {
        void reply.header('retry-after', '10');
        throw new ChorusError('unavailable', `too many event streams open (at most ${max}, api.maxEventStreams); retry later`);
      }
      const lastEventId = Number(req.headers['last-event-id']);
      let cursor = req.query.cursor ?? (Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : ctx.node.store.lastSeq);
      const subject = req.query.subject === undefined ? undefined : parseDigest(req.query.subject);
      const counting = req.query.counting === 'true';
      const withStatus = req.query.status !== 'false';
      let statusCursor = ctx.statusWatch.head;
      const wanted = (a: StoredAttestation): boolean =>
        (subject === undefined || a.statement.subject.some((x) => x.digest.sha256 === subject))
        && (!counting || (ctx.node.trustState.last?.counts(a.issuer) ?? false));
      streams++;
      ctx.metrics.eventStreams.inc();
      reply.hijack();
      const res = reply.raw;
      let closed = false;
      res.once('close', () => (closed = true));
      const gone = (): boolean => closed || res.destroyed;
      try {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write(`: chorus events from cursor ${cursor}\n\n`);
        const { store } = ctx.node;
        while (!gone() && !ctx.events.isClosed) {
          const page = await store.bySeq({ after: cursor, limit: PAGE });
          for (const a of page.items) {
            if (gone()) break;
            cursor = a.seq;
            if (!wanted(a)) continue;
            res.write(`id: ${a.seq}\nevent: attestation\ndata: ${JSON.stringify(summarize(a))}\n\n`);
            if (res.writableLength > MAX_BUFFERED_BYTES) {
              req.log.info({ buffered: res.writableLength, cursor }, 'event stream client is not reading: disconnected');
              ctx.metrics.eventStreamsDropped.inc();
              res.destroy();
            }
          }
          if (withStatus) {
            const { changes, next } = ctx.statusWatch.since(statusCursor);
            statusCursor = next;
            for (const c of changes) {
              if (subject !== undefined && c.digest !== `sha256:${subject}`) continue;
              res.write(`event: status\ndata: ${JSON.stringify({ digest: c.digest, old: c.old, new: c.new, reason: c.reason, at: c.at })}\n\n`);
            }
          }
          const caughtUp = page.next === undefined && cursor >= store.lastSeq && statusCursor >= ctx.statusWatch.head;
          if (gone() || (!caughtUp && !res.writableNeedDrain)) continue;
          const why = await wake(res, ctx.events, HEARTBEAT_MS);
          if (why === 'timeout' && res.writableLength === 0 && cursor >= store.lastSeq) res.write(': keep-alive\n\n');
        }
      } catch (e) {
        req.log.warn({ err: e }, 'event stream ended with an error');
      } finally {
        streams--;
        ctx.metrics.eventStreams.dec();
        if (!res.writableEnded && !gone()) res.end();
      }
    });
  };
}
