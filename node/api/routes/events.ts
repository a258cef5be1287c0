import { once } from 'node:events';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { summarize, type AppContext } from '../context.js';

const HEARTBEAT_MS = 15_000;
// Small pages: a stalled client holds one decoded page in memory while it waits.
const PAGE = 16;

/**
 * Server-Sent Events: every accepted attestation, resumable from an arrival-sequence
 * cursor. Each client keeps only its cursor: it reads the store page by page and waits for
 * the socket to drain before reading more, so a slow or stalled client costs no memory.
 */
export function eventRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/events', {
      schema: {
        summary: 'Stream of newly accepted attestations (text/event-stream), with backfill from ?cursor=N',
        description: 'Each event: `id: <seq>`, `event: attestation`, `data: <attestation summary JSON>`. Reconnect with ?cursor= or Last-Event-ID to resume.',
        tags: ['events'],
        querystring: z.strictObject({
          cursor: z.coerce.number().int().min(0).optional().describe('arrival sequence to resume after; default: only new events'),
        }),
      },
    }, async (req, reply) => {
      const lastEventId = Number(req.headers['last-event-id']);
      let cursor = req.query.cursor ?? (Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : ctx.node.store.lastSeq);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`: chorus events from cursor ${cursor}\n\n`);
      let open = true;
      const close = (): void => {
        open = false;
      };
      req.raw.on('close', close);
      res.on('close', close);
      res.on('error', close);
      try {
        while (open && !ctx.events.isClosed) {
          const page = await ctx.node.store.bySeq({ after: cursor, limit: PAGE });
          for (const a of page.items) {
            if (!open) break;
            cursor = a.seq;
            const ok = res.write(`id: ${a.seq}\nevent: attestation\ndata: ${JSON.stringify(summarize(a))}\n\n`);
            if (!ok) {
              req.log.debug({ buffered: res.writableLength, socket: res.socket?.writableLength, cursor }, 'event stream waits for a slow client');
              await Promise.race([once(res, 'drain'), once(res, 'close')]);
            }
          }
          if (page.next !== undefined) continue;
          if (cursor >= ctx.node.store.lastSeq) {
            await ctx.events.wait(HEARTBEAT_MS);
            if (open && cursor >= ctx.node.store.lastSeq && res.writableLength === 0) res.write(': keep-alive\n\n');
          }
        }
      } catch (e) {
        req.log.warn({ err: e }, 'event stream ended with an error');
      } finally {
        req.raw.off('close', close);
        if (!res.writableEnded) res.end();
      }
    });
  };
}
