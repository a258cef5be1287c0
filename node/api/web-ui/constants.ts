const second = 1000;
const hour = 3600 * second;

/** The web view's tunables. */
export const WEB = {
  /** A `chorus ui` login code works once, within this time. */
  loginCodeTtlMs: 60 * second,
  /** A pairing code (`chorus ui --remote`: typed by hand on another machine) works once, within this time. */
  pairingCodeTtlMs: 10 * 60 * second,
  /** Failed logins the node takes per minute, from everyone together; past it every login waits (a pairing code has 50 bits). */
  failedLoginsPerMinute: 10,
  /** Login codes pending at once; the oldest is dropped beyond. */
  maxLoginCodes: 16,
  /** A browser session lasts this long (in memory: a restart ends it). */
  sessionTtlMs: 12 * hour,
  /** Browser sessions at once; the least recently used is dropped beyond. */
  maxSessions: 64,
} as const;

/**
 * Content-Security-Policy of every web response. The import map is the one inline script,
 * allowed by its hash (Chromium cannot load an import map from a file).
 */
export function contentSecurityPolicy(importMapHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'self' '${importMapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}
