import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { localClient } from '../../client/local-client.js';
import { nativeSuite } from '../../crypto/native-suite.js';
import type { AppContext, Guards } from '../context.js';
import { scanAndKeep } from '../../scan/run.js';
import { readLastScan } from '../../scan/last-scan.js';
import { ErrorBodySchema } from '../../service/contract.js';

const ScanState = z.object({
  running: z.boolean().describe('a rescan started here is running'),
  error: z.string().optional().describe('why the last rescan started here failed'),
  last: z.object({ at: z.string(), paths: z.array(z.string()), report: z.record(z.string(), z.unknown()) }).nullable().describe('the last scan of this machine (chorus scan, or a rescan), null when there was none'),
});

/**
 * The last `chorus scan` of this machine, and a rescan the node runs itself (same roots or
 * paths as the last scan, same hash cache). It names files on this machine, so reading it
 * needs the API token or a web session's cookie with its CSRF secret (x-chorus-csrf): the
 * cookie alone also reaches servers on other ports of 127.0.0.1.
 */
export function scanRoutes(ctx: AppContext, guards: Guards): FastifyPluginAsyncZod {
  const dataDir = ctx.node.home.root;
  let running: Promise<void> | undefined;
  let error: string | undefined;
  return async (app) => {
    app.get('/v1/scan/last', {
      schema: { summary: 'The last scan of model files on this machine (needs the token, or a web session cookie with its x-chorus-csrf header)', tags: ['scan'], security: [{ bearer: [] }], response: { 200: ScanState, 401: ErrorBodySchema } },
      onRequest: async (req, reply) => {
        if (guards.readsPrivate(req)) return;
        return reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'unauthorized', message: 'the last scan names files on this machine: it needs the API token, or a web session (chorus ui) with its x-chorus-csrf header' });
      },
    }, async () => {
      const last = await readLastScan(dataDir);
      return { running: running !== undefined, ...(error === undefined ? {} : { error }), last: last === undefined ? null : { ...last, paths: [...last.paths], report: last.report as unknown as Record<string, unknown> } };
    });

    app.post('/v1/scan', {
      schema: { summary: 'Rescan this machine\'s model files (the last scan\'s paths); 202 while it runs, poll GET /v1/scan/last', tags: ['scan'], security: [{ bearer: [] }], response: { 202: z.object({ running: z.boolean() }), 401: ErrorBodySchema } },
      onRequest: guards.write,
      config: { rateLimit: guards.writeLimit },
    }, async (_req, reply) => {
      if (running === undefined) {
        error = undefined;
        running = (async () => {
          const last = await readLastScan(dataDir);
          const { notKept } = await scanAndKeep(dataDir, { paths: last?.paths ?? [], verify: false, client: localClient(ctx.node), suite: nativeSuite() });
          if (notKept !== undefined) throw notKept;
        })().catch((e: unknown) => {
          error = (e as Error).message;
        }).finally(() => {
          running = undefined;
        });
      }
      return reply.code(202).send({ running: true });
    });
  };
}
