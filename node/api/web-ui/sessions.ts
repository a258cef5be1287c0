import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WEB } from './constants.js';

/** One browser logged in with a `chorus ui` code. */
export interface WebSession {
  readonly id: string;
  /** Sent back as the x-chorus-csrf header on every write and every private read. */
  readonly csrf: string;
  readonly expiresAt: number;
}

/** How a request's session cookie stands for a write. */
export type SessionWrite =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403; readonly code: string; readonly message: string };

const random = (): string => randomBytes(32).toString('base64url');
/** Letters and digits a person reads and types without confusing them (no 0/O, 1/I/L). */
const PAIRING_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
/** Ten of them, shown as two groups of five: ABCDE-FGHJK. */
function pairingCode(): string {
  const chars = Array.from({ length: 10 }, () => PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)]!);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}
/** A typed pairing code in any case, with or without its dash and spaces, is the stored one; a link code is taken as it is. */
export function normalizeCode(code: string): string {
  const c = code.trim();
  return /^[0-9A-Za-z]{5}[- ]?[0-9A-Za-z]{5}$/.test(c) ? c.replace(/[- ]/g, '').toUpperCase() : c;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether the request carries the session's CSRF secret in x-chorus-csrf. */
function hasSecret(req: FastifyRequest, s: WebSession): boolean {
  const token = req.headers['x-chorus-csrf'];
  return typeof token === 'string' && same(token, s.csrf);
}

/** The value of one cookie in a Cookie header (no decoding: our values are base64url). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The cookie's name carries the port: browsers share cookies between all ports of a host,
 * so two nodes on 127.0.0.1 would otherwise overwrite each other's session.
 */
export function cookieName(req: FastifyRequest): string {
  const port = /:(\d{1,5})$/.exec(req.headers.host ?? '')?.[1] ?? '80';
  return `chorus_session_${port}`;
}

/**
 * Login codes and browser sessions, in memory only (a restart logs every browser out).
 * Codes are single-use and short-lived; sessions expire and the oldest is dropped when
 * there are too many, so neither can grow without bound.
 */
/** The answer while an address (or the server) waits out its failed logins and wrong tokens. */
export function tooManyFailures(reply: FastifyReply, waitMs: number): FastifyReply {
  const seconds = Math.ceil(waitMs / 1000);
  return reply.code(429).header('retry-after', String(seconds)).send({ code: 'rate_limited', message: `too many wrong tokens or logins from here: retry in ${seconds} s` });
}

/** Which server a failed login came in by: the loopback API, or the LAN server. */
export type FailureScope = 'local' | 'lan';

export class WebSessions {
  private readonly codes = new Map<string, number>();
  // Insertion order is use order (a used session is re-inserted): the first is the least recently used.
  private readonly sessions = new Map<string, WebSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A fresh one-time login code (the oldest pending code is dropped beyond WEB.maxLoginCodes):
   * a long random one for a link (60 s), or with `pairing` a short one to type on another
   * machine (10 letters and digits, 50 bits, 10 minutes) — failed logins are bounded node-wide
   * (WEB.failedLoginsPerMinute), so guessing one is out of reach.
   */
  issueCode(pairing = false): { code: string; expiresAt: number } {
    this.sweep();
    const code = pairing ? pairingCode() : random();
    const expiresAt = this.now() + (pairing ? WEB.pairingCodeTtlMs : WEB.loginCodeTtlMs);
    this.codes.set(normalizeCode(code), expiresAt);
    while (this.codes.size > WEB.maxLoginCodes) this.codes.delete(this.codes.keys().next().value as string);
    return { code, expiresAt };
  }

  /**
   * Failed logins and wrong API tokens: WEB.failedLoginsPerMinute per address (so one guesser
   * does not lock others out), and 6× that for the whole server (so many addresses together
   * cannot guess either). Counted per server (`scope`): guessing on the LAN server makes LAN
   * logins wait, never the loopback API, where this machine's owner still gets in. Buckets
   * refill continuously; at most 10,000 addresses are remembered.
   */
  private readonly failures = new Map<string, { tokens: number; at: number }>();

  private bucket(key: string, per: number): { tokens: number; at: number; wait: number } {
    const now = this.now();
    const rate = per / 60_000;
    const b = this.failures.get(key) ?? { tokens: per, at: now };
    b.tokens = Math.min(per, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.failures.delete(key);
    this.failures.set(key, b);
    while (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
    return Object.assign(b, { wait: b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / rate) });
  }

  /** Whether `ip` may try a login or a token now; ms to wait otherwise. */
  loginWait(ip = '', scope: FailureScope = 'local'): number {
    // Read-only, and nothing to do for an address without failures: this runs on every request with a token.
    return Math.max(this.waitOf(`${scope} ip ${ip}`, WEB.failedLoginsPerMinute), this.waitOf(`${scope} all`, WEB.failedLoginsPerMinute * 6));
  }

  /** Ms until the bucket `key` holds one token again (0: now), without touching it. */
  private waitOf(key: string, per: number): number {
    const b = this.failures.get(key);
    if (b === undefined) return 0;
    const rate = per / 60_000;
    const tokens = Math.min(per, b.tokens + (this.now() - b.at) * rate);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / rate);
  }

  /** A failed login or a wrong token from `ip`: counted against both bounds of its server. */
  failed(ip = '', scope: FailureScope = 'local'): void {
    this.bucket(`${scope} ip ${ip}`, WEB.failedLoginsPerMinute).tokens -= 1;
    this.bucket(`${scope} all`, WEB.failedLoginsPerMinute * 6).tokens -= 1;
  }

  /** Exchanges a login code for a new session; undefined when unknown, used or expired (a failure counts against the bound). */
  redeem(typed: string, ip = '', scope: FailureScope = 'local'): WebSession | undefined {
    const code = normalizeCode(typed);
    const expiresAt = this.codes.get(code);
    if (expiresAt === undefined) this.failed(ip, scope);
    if (expiresAt === undefined) return undefined;
    this.codes.delete(code);
    if (expiresAt <= this.now()) return undefined;
    const s: WebSession = { id: random(), csrf: random(), expiresAt: this.now() + WEB.sessionTtlMs };
    this.sessions.set(s.id, s);
    while (this.sessions.size > WEB.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
    return s;
  }

  /** The live session a request's cookie names, if any. */
  get(req: FastifyRequest): WebSession | undefined {
    const id = cookieValue(req.headers.cookie, cookieName(req));
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  /** Whether the request names a session cookie at all (live or not). */
  hasCookie(req: FastifyRequest): boolean {
    return cookieValue(req.headers.cookie, cookieName(req)) !== undefined;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  /**
   * Whether a request may read what is private to this machine (the last scan, or anything
   * when api.requireTokenForReads is on) by its session: a live session and its CSRF secret
   * in the x-chorus-csrf header. The cookie alone is not enough: browsers send it to every
   * port of 127.0.0.1, so a server on another local port receives it; only this node's own
   * pages hold the secret (sessionStorage is per origin).
   */
  canRead(req: FastifyRequest): boolean {
    const s = this.get(req);
    return s !== undefined && hasSecret(req, s);
  }

  /**
   * Whether a cookie-authenticated write may proceed: a live session, its CSRF token in the
   * x-chorus-csrf header, and nothing saying the request came from another site (Origin,
   * Sec-Fetch-Site). SameSite=Strict already keeps the cookie off cross-site requests; these
   * checks hold even for a browser that ignores SameSite.
   */
  checkWrite(req: FastifyRequest): SessionWrite {
    const s = this.get(req);
    if (s === undefined) return { ok: false, status: 401, code: 'unauthorized', message: 'the web session has expired or is unknown: run chorus ui to log in again' };
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return { ok: false, status: 403, code: 'forbidden', message: `a write from ${String(site)} is refused: only this node's own pages may write` };
    // Behind a TLS-terminating proxy the page's origin is https://; the Host is the same.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}` && origin !== `https://${req.headers.host ?? ''}`) return { ok: false, status: 403, code: 'forbidden', message: `a write from origin ${origin} is refused` };
    if (!hasSecret(req, s)) return { ok: false, status: 403, code: 'forbidden', message: 'missing or wrong x-chorus-csrf header (the page has it from its login; in a new tab, run chorus ui again)' };
    return { ok: true };
  }

  private sweep(): void {
    const now = this.now();
    for (const [c, at] of this.codes) if (at <= now) this.codes.delete(c);
  }
}
