import { isIP } from 'node:net';

/** What a request's Host header may name besides loopback. */
export interface HostPolicy {
  /** The address the API is bound to (`api.host`). */
  readonly bindHost: string;
  /** Names allowed by configuration (`api.allowedHosts`), lower case. */
  readonly allowedHosts: readonly string[];
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** The host part of a Host header value (no port, no brackets, lower case, no trailing dot); undefined if malformed. */
export function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s/@]+))(?::\d{1,5})?$/i.exec(header.trim());
  const host = m?.[1] ?? m?.[2];
  return host === undefined ? undefined : host.toLowerCase().replace(/\.$/, '');
}

/**
 * Whether a request naming `header` in its Host header is served. A web page can make a
 * browser send requests to this node under a DNS name that the attacker points at
 * 127.0.0.1 (DNS rebinding), and the browser then lets the page read the answers; the
 * Host header still carries the attacker's name. So only loopback names and addresses,
 * the bound address (any IP literal when bound to a wildcard: a rebinding page cannot
 * make a browser send an IP literal it did not load the page from), and configured names
 * are served. A request without Host (HTTP/1.0) comes from no browser and is served.
 */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  if (header === undefined) return true;
  const host = hostOf(header);
  if (host === undefined) return false;
  if (isLoopback(host)) return true;
  if (policy.allowedHosts.includes(host)) return true;
  const bind = policy.bindHost.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (WILDCARD.has(bind)) return isIP(host) !== 0;
  return host === bind;
}
