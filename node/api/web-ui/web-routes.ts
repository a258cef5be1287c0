import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext, Guards } from '../context.js';
import { ErrorBodySchema } from '../../service/contract.js';
import { Assets } from './assets.js';
import { contentSecurityPolicy, WEB } from './constants.js';
import { cookieName, tooManyFailures, type WebSessions } from './sessions.js';

/** A small icon: a chorus of three voices. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f3a5f"/><circle cx="9" cy="18" r="4" fill="#fff"/><circle cx="16" cy="12" r="4" fill="#fff"/><circle cx="23" cy="18" r="4" fill="#fff"/></svg>';

/** Client-side routes of the single-page app: each answers index.html. */
const PAGES = ['/', '/models/*', '/issuers/*', '/search', '/local', '/publish'];

/** Requests that carry no node data (the page shell, its assets, login): served even when reads need the token. */
export function isWebShell(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/' || path === '/login' || path === '/search' || path === '/local' || path === '/publish'
    || path.startsWith('/ui/') || path.startsWith('/models/') || path.startsWith('/issuers/');
}

const SECURITY_HEADERS = (csp: string): Record<string, string> => ({
  'content-security-policy': csp,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/**
 * The web view: the page shell and its assets, `chorus ui` login (one-time code → HttpOnly,
 * SameSite=Strict session cookie, and the session's CSRF secret handed to the tab once). The page reads and writes
 * through the JSON API like any client; nothing here knows about attestations.
 */
export function webRoutes(ctx: AppContext, guards: Guards, sessions: WebSessions): FastifyPluginAsyncZod {
  return async (app) => {
    const assets = new Assets();
    const csp = contentSecurityPolicy(`sha256-${createHash('sha256').update(assets.importMap).digest('base64')}`);
    const headers = SECURITY_HEADERS(csp);

    app.addHook('onSend', async (_req, reply) => {
      void reply.headers(headers);
    });

    const shell = async (_req: unknown, reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(assets.index);
    for (const url of PAGES) app.get(url, { schema: { hide: true } }, shell);

    // Browsers ask for it on any page of the origin (the app's own pages say where it is).
    app.get('/favicon.ico', { schema: { hide: true }, config: { public: true } }, async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON));

    app.get('/ui/:id/*', { schema: { hide: true } }, async (req, reply) => {
      const { id, '*': name } = req.params as { id: string; '*': string };
      const asset = id === assets.id ? assets.files.get(name) : undefined;
      if (asset === undefined) return reply.code(404).send({ code: 'not_found', message: `no asset ${id}/${name}` });
      return reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
    });

    app.post('/ui/login-code', {
      schema: {
        summary: 'A one-time login code for the web view (what `chorus ui` asks for); needs the API token itself',
        tags: ['web'],
        security: [{ bearer: [] }],
        body: z.strictObject({ pairing: z.boolean().optional().describe('a short code to type on another machine (10 minutes) instead of a link code (60 s)') }).nullish(),
        response: { 200: z.object({ code: z.string(), url: z.string(), expiresAt: z.string() }), 401: ErrorBodySchema, 429: ErrorBodySchema },
      },
      config: { rateLimit: guards.writeLimit },
    }, async (req, reply) => {
      // Only the token mints codes: a browser session cannot extend itself. A wrong token counts as a failed login.
      if (!guards.authed(req)) {
        const wait = sessions.loginWait(req.ip, guards.scope);
        if (wait > 0) return tooManyFailures(reply, wait);
        return reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'unauthorized', message: 'a login code needs the API token: Authorization: Bearer <token>' });
      }
      const { code, expiresAt } = sessions.issueCode(req.body?.pairing === true);
      return { code, url: `${ctx.url}/login?code=${code}`, expiresAt: new Date(expiresAt).toISOString() };
    });

    const page = (title: string, body: string): string =>
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Chorus: ${title}</title><link rel="stylesheet" href="${assets.prefix}app.css"></head>`
      + `<body><main class="page">${body}</main></body></html>`;
    const failed = (reply: FastifyReply) => reply.code(403).type('text/html; charset=utf-8').send(page('login failed',
      '<h1>This login link does not work</h1><p>A login code works once, for '
      + `${WEB.loginCodeTtlMs / 1000} seconds. Run <code>chorus ui</code> again for a new one.</p><p><a href="/">Open the read-only view</a></p>`));

    // GET shows a button and redeems nothing: a link preview, a prefetch or a history
    // lookup cannot use the code up. The code goes on in the body of a POST.
    app.get('/login', { schema: { hide: true, querystring: z.object({ code: z.string().max(100).optional() }) } }, async (req, reply) => {
      void reply.header('cache-control', 'no-store');
      const code = req.query.code;
      // No code: a form to type a pairing code (`chorus ui --remote` printed it).
      if (code === undefined) {
        return reply.type('text/html; charset=utf-8').send(page('log in',
          '<h1>Log in to this Chorus node</h1><p>Type the pairing code <code>chorus ui --remote</code> printed on the node\'s machine (it works once, for 10 minutes).</p>'
          + '<form method="post" action="/login"><label>Pairing code <input name="code" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="20" required></label> <button type="submit" class="primary">Log in</button></form>'));
      }
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(code)) return failed(reply);
      return reply.type('text/html; charset=utf-8').send(page('log in',
        '<h1>Log in to this Chorus node</h1><p>With this one-time code from <code>chorus ui</code>, this browser may change trust and publish.</p>'
        + `<form method="post" action="/login"><input type="hidden" name="code" value="${code}"><button type="submit" class="primary">Log in</button></form>`));
    });

    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.post('/login', { schema: { hide: true, body: z.object({ code: z.string().max(100) }) } }, async (req, reply) => {
      void reply.header('cache-control', 'no-store');
      // Failed logins are bounded node-wide: past the bound, every attempt waits (no guessing).
      const wait = sessions.loginWait(req.ip, guards.scope);
      if (wait > 0) {
        return reply.code(429).header('retry-after', String(Math.ceil(wait / 1000))).type('text/html; charset=utf-8').send(page('too many attempts',
          `<h1>Too many failed logins</h1><p>This node takes ${WEB.failedLoginsPerMinute} failed logins a minute. Try again in ${Math.ceil(wait / 1000)} s.</p>`));
      }
      const s = sessions.redeem(req.body.code, req.ip, guards.scope);
      if (s === undefined) return failed(reply);
      // HttpOnly: page script never sees it. SameSite=Strict: no other site's page can make
      // the browser send it. No Secure flag: the API is plain HTTP on loopback, and a Secure
      // cookie would never be sent back over it.
      // Secure over HTTPS (the LAN server): the cookie never crosses the network in clear text.
      void reply.header('set-cookie', `${cookieName(req)}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(WEB.sessionTtlMs / 1000)}${req.protocol === 'https' ? '; Secure' : ''}`);
      // The CSRF secret goes to this tab only, in the fragment (never sent to a server): the
      // page keeps it in sessionStorage, which is this origin's (scheme, host and port) alone.
      // A cookie is not: browsers send it to every port of 127.0.0.1, so a server on another
      // port would get the cookie, but never this secret, and a write or a private read needs both.
      return reply.code(303).header('location', `/#csrf=${s.csrf}`).send();
    });

    app.get('/ui/session', { schema: { hide: true } }, async (req, reply) => {
      void reply.header('cache-control', 'no-store');
      const s = sessions.get(req);
      return s === undefined
        ? { loggedIn: false, readsNeedToken: guards.readsNeedToken }
        : { loggedIn: true, expiresAt: new Date(s.expiresAt).toISOString(), readsNeedToken: guards.readsNeedToken };
    });

    app.post('/ui/logout', { schema: { hide: true }, onRequest: guards.write }, async (req, reply) => {
      const s = sessions.get(req);
      if (s !== undefined) sessions.end(s.id);
      return reply.header('set-cookie', `${cookieName(req)}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send({ loggedIn: false });
    });
  };
}
