import { isIP } from 'node:net';

/**
 * A peer's remote address as the admission limits see it (SPEC §14.4):
 * - `public`: `ip` is the address (IPv6: its /64, what one subscriber is given) and
 *   `network` its /24 (IPv4) or /48 (IPv6), so fresh peer ids on one host or one
 *   allocation share their caps;
 * - `private` (RFC 1918, CGNAT 100.64/10, link-local, IPv6 ULA): `ip` and `network` are the
 *   exact address: a /24 of a LAN says nothing about who holds it;
 * - `loopback`: every process on this host shares it (a devnet, a bench), so it names no
 *   one; such a peer is held to the per-peer and global caps only, as is a peer whose
 *   address is unknown.
 */
export interface PeerAddress {
  readonly kind: 'public' | 'private' | 'loopback';
  readonly ip: string;
  readonly network: string;
}

function ipv4Octets(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const o = parts.map(Number);
  return o.every((n) => n <= 255) ? o : undefined;
}

function classifyIpv4(o: readonly number[]): PeerAddress {
  const [a = 0, b = 0, c = 0] = o;
  const ip = o.join('.');
  if (a === 127 || a === 0) return { kind: 'loopback', ip, network: ip };
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  return isPrivate ? { kind: 'private', ip, network: ip } : { kind: 'public', ip, network: `${a}.${b}.${c}.0/24` };
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, an IPv4 tail folded in). */
function ipv6Groups(s: string): number[] | undefined {
  let a = (s.split('%')[0] ?? '').toLowerCase();
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = ipv4Octets(v4[1] as string);
    if (o === undefined) return undefined;
    tail = [((o[0] as number) << 8) | (o[1] as number), ((o[2] as number) << 8) | (o[3] as number)];
    a = a.slice(0, -(v4[1] as string).length);
    if (a.endsWith(':') && !a.endsWith('::')) a = a.slice(0, -1);
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const hex = (x: string): number => (/^[0-9a-f]{1,4}$/.test(x) ? parseInt(x, 16) : NaN);
  const head = halves[0] ? halves[0].split(':').map(hex) : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':').map(hex) : [];
  if ([...head, ...rest].some(Number.isNaN)) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1) return known === 8 ? [...head, ...tail] : undefined;
  if (known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

const prefix6 = (g: readonly number[], groups: number): string => `${g.slice(0, groups).map((x) => x.toString(16)).join(':')}::/${groups * 16}`;

/** How the admission limits see an IP address (v4 or v6); undefined when it is not one. */
export function classifyIp(address: string): PeerAddress | undefined {
  const s = address.trim();
  if (isIP(s) === 4) return classifyIpv4(ipv4Octets(s) as number[]);
  const g = ipv6Groups(s);
  if (g === undefined || isIP(s.split('%')[0] ?? '') !== 6) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return classifyIpv4([(g[6] as number) >> 8, (g[6] as number) & 0xff, (g[7] as number) >> 8, (g[7] as number) & 0xff]);
  }
  const full = g.map((x) => x.toString(16)).join(':');
  if (g.slice(0, 7).every((x) => x === 0) && (g[7] === 1 || g[7] === 0)) return { kind: 'loopback', ip: full, network: full };
  const g0 = g[0] as number;
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80) return { kind: 'private', ip: full, network: full };
  return { kind: 'public', ip: prefix6(g, 4), network: prefix6(g, 3) };
}

/**
 * The remote IP of a peer from its connections' multiaddrs (`/ip4/…` or `/ip6/…`): a
 * direct connection's if it has one, else a relayed one's (the relay's address: peers
 * behind one relay share its caps, and an attacker gains nothing by relaying).
 */
export function remoteIp(multiaddrs: Iterable<string>): string | undefined {
  let relayed: string | undefined;
  for (const ma of multiaddrs) {
    const m = /^\/ip[46]\/([^/]+)/.exec(ma);
    if (m === null) continue;
    if (!ma.includes('/p2p-circuit')) return m[1];
    relayed ??= m[1];
  }
  return relayed;
}
