import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChorusError } from '../../../src/errors.js';
import { ErrorBodySchema } from '../../service/contract.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import type { StoredAttestation } from '../../store/attestation-store.js';
import { summarize, type AppContext, type Guards } from '../context.js';
import type { EventHub } from '../event-hub.js';
import { ReplayBudget } from '../replay-budget.js';

const HEARTBEAT_MS = 15_000;
// Small pages: a stalled client holds one decoded page in memory while it waits.
const PAGE = 16;
/** Most bytes a client may have waiting in its response buffer before it is disconnected. */
export const MAX_BUFFERED_BYTES = 256 * 1024;
/** What reading one attestation that a filter leaves out costs against the replay budget. */
const SKIPPED_BYTES = 256;

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

/** The open streams and the replay budget: one per node, whichever server (loopback, LAN) a stream came in by. */
interface StreamGate { streams: number; readonly budget: ReplayBudget }
const gates = new WeakMap<AppContext, StreamGate>();
function streamGate(ctx: AppContext): StreamGate {
  let g = gates.get(ctx);
  if (g === undefined) {
    const { api } = ctx.node.config;
    g = { streams: 0, budget: new ReplayBudget(api.eventReplayTotalBytesPerSecond, api.eventReplayBytesPerSecond, (why) => ctx.metrics.eventReplayWaits.inc({ budget: why })) };
    gates.set(ctx, g);
  }
  return g;
}

/**
 * Server-Sent Events: every accepted attestation, resumable from an arrival-sequence
 * cursor. Each client keeps only its cursor: it reads the store page by page, and while
 * a client has not drained its buffer, only new events or the heartbeat make the stream
 * write more. A client whose buffer grows past MAX_BUFFERED_BYTES (it stopped reading) is
 * disconnected; it can resume with Last-Event-ID. At most api.maxEventStreams run at once.
 *
 * Replay (what was stored before the stream opened) is charged to a budget per stream and
 * one shared by all streams (replay-budget.ts): past it the stream waits on a timer, and one
 * replay page is read at a time, so replaying clients cannot hold the event loop from
 * /healthz or from live streams. Live events are not charged. A client without the API
 * token replays at most the newest api.eventHistoryWithoutToken sequence numbers.
 */
export function eventRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  const { api } = ctx.node.config;
  const { metrics } = ctx;
  const gate = streamGate(ctx);
  const { budget } = gate;
  return async (app) => {
    app.get('/v1/events', {
      schema: {
        summary: 'Stream of newly accepted attestations and of status changes in this view (text/event-stream), with backfill from ?cursor=N',
        description: 'Attestations: `id: <seq>`, `event: attestation`, `data: <attestation summary JSON>`; reconnect with ?cursor= or Last-Event-ID to resume. Status changes: `event: status`, `data: {digest, old, new, reason, at}` when a digest this node has answered about changes status in its view (from the moment the stream opens). Filters: ?subject=, ?counting=true, ?status=false. A client that stops reading is disconnected once 256 KiB wait for it; 503 when api.maxEventStreams streams are open. Replay of history stored before the stream opened is paced (api.eventReplayBytesPerSecond per stream, api.eventReplayTotalBytesPerSecond for all streams): it completes, more slowly. Without the API token, a cursor older than the newest api.eventHistoryWithoutToken (default 1,000) sequence numbers starts there instead, and the stream first sends `event: truncated`, `data: {cursor, from, history}` (the cursor asked, the cursor it starts after, the limit).',
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
      if (gate.streams >= max) {
        void reply.header('retry-after', '10');
        throw new ChorusError('unavailable', `too many event streams open (at most ${max}, api.maxEventStreams); retry later`);
      }
      const { store } = ctx.node;
      const lastEventId = Number(req.headers['last-event-id']);
      const asked = req.query.cursor ?? (Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : store.lastSeq);
      // What was stored before the stream opened is replay, charged to the budget.
      const replayEnd = store.lastSeq;
      const floor = guards.authed(req) ? 0 : Math.max(0, replayEnd - api.eventHistoryWithoutToken);
      let cursor = Math.max(asked, floor);
      const subject = req.query.subject === undefined ? undefined : parseDigest(req.query.subject);
      const counting = req.query.counting === 'true';
      const withStatus = req.query.status !== 'false';
      let statusCursor = ctx.statusWatch.head;
      const wanted = (a: StoredAttestation): boolean =>
        (subject === undefined || a.statement.subject.some((x) => x.digest.sha256 === subject))
        && (!counting || (ctx.node.trustState.last?.counts(a.issuer) ?? false));
      gate.streams++;
      metrics.eventStreams.inc();
      reply.hijack();
      const res = reply.raw;
      let closed = false;
      const ac = new AbortController();
      res.once('close', () => {
        closed = true;
        ac.abort();
      });
      const gone = (): boolean => closed || res.destroyed;
      const send = (chunk: string): number => {
        const n = Buffer.byteLength(chunk);
        res.write(chunk);
        metrics.eventBytesSent.inc(n);
        return n;
      };
      const own = budget.stream();
      /**
       * Reads and sends one page, in one write (a write per event costs a system call each);
       * its cost is the bytes sent, plus SKIPPED_BYTES per attestation filtered out.
       */
      const sendPage = async () => {
        // A turn can come after the stream or the node closed (the store may be closing).
        if (gone() || ctx.events.isClosed) return { bytes: 0, value: undefined };
        const page = await store.bySeq({ after: cursor, limit: PAGE });
        if (gone()) return { bytes: 0, value: undefined };
        let skipped = 0;
        let text = '';
        for (const a of page.items) {
          cursor = a.seq;
          if (wanted(a)) text += `id: ${a.seq}\nevent: attestation\ndata: ${JSON.stringify(summarize(a))}\n\n`;
          else skipped += SKIPPED_BYTES;
        }
        const bytes = text === '' ? 0 : send(text);
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          req.log.info({ buffered: res.writableLength, cursor }, 'event stream client is not reading: disconnected');
          metrics.eventStreamsDropped.inc();
          res.destroy();
        }
        return { bytes: bytes + skipped, value: page };
      };
      try {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        send(`: chorus events from cursor ${cursor}\n\n`);
        if (cursor > asked) {
          metrics.eventHistoryTruncated.inc();
          send(`event: truncated\ndata: ${JSON.stringify({ cursor: asked, from: cursor, history: api.eventHistoryWithoutToken })}\n\n`);
        }
        while (!gone() && !ctx.events.isClosed) {
          let page;
          if (cursor < replayEnd) {
            page = await budget.run(own, ac.signal, async () => {
              const p = await sendPage();
              metrics.eventReplayBytes.inc(p.bytes);
              metrics.eventReplayAttestations.inc(p.value?.items.length ?? 0);
              return p;
            });
          } else {
            page = (await sendPage()).value;
          }
          if (page === undefined) break;
          if (withStatus) {
            const { changes, next } = ctx.statusWatch.since(statusCursor);
            statusCursor = next;
            for (const c of changes) {
              if (subject !== undefined && c.digest !== `sha256:${subject}`) continue;
              send(`event: status\ndata: ${JSON.stringify({ digest: c.digest, old: c.old, new: c.new, reason: c.reason, at: c.at })}\n\n`);
            }
          }
          const caughtUp = page.next === undefined && cursor >= store.lastSeq && statusCursor >= ctx.statusWatch.head;
          if (gone()) continue;
          if (!caughtUp && !res.writableNeedDrain) {
            // Between two pages, whatever else waits on the event loop runs first.
            await nextTurn();
            continue;
          }
          const why = await wake(res, ctx.events, HEARTBEAT_MS);
          if (why === 'timeout' && res.writableLength === 0 && cursor >= store.lastSeq) send(': keep-alive\n\n');
        }
      } catch (e) {
        // At shutdown a page read in flight meets the store closing: expected, not worth a warning.
        if (!ctx.events.isClosed) req.log.warn({ err: e }, 'event stream ended with an error');
      } finally {
        gate.streams--;
        metrics.eventStreams.dec();
        if (!res.writableEnded && !gone()) res.end();
      }
    });
  };
}
