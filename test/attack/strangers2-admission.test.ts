import { describe, expect, it } from 'vitest';
import { classifyIp } from '../../node/ingest/address.js';
import { NewIssuerAdmission } from '../../node/ingest/admission.js';

/*
 * Strangers, round two: the new-issuer caps (admission.ts, address.ts) against an attacker
 * with a few networks. Default caps (config.ts): 1,000 per peer, 1,000 per IP (/64),
 * 2,000 per /24 or /48, 5,000 in all, per hour.
 */
const CAPS = { perPeer: 1_000, perIp: 1_000, perNetwork: 2_000, global: 5_000 };

describe('new-issuer caps', () => {
  it('three /48s (free from an IPv6 tunnel broker) spend the global cap: an honest network\'s first new issuer is refused for the hour', () => {
    let t = 0;
    const adm = new NewIssuerAdmission(CAPS, () => t);
    let taken = 0;
    // 3 networks x 2 /64s x 1,000 new issuers, from fresh peer ids (free), within the hour.
    for (let n = 1; n <= 3; n++) {
      for (let s = 1; s <= 3; s++) {
        const address = classifyIp(`2001:db8:${n.toString(16)}:${s.toString(16)}::1`)!;
        for (let i = 0; i < 1_000; i++) if (adm.take(`12D3KooWSybil${n}-${s}-${Math.floor(i / 900)}`, address) === undefined) taken++;
      }
      t += 1_000;
    }
    expect(taken).toBe(5_000);
    // A lab's node in another network brings the first issuer it has ever introduced.
    const honest = classifyIp('198.51.100.20')!;
    expect(adm.take('12D3KooWHonestLab', honest)).toBeUndefined();
  });

  it('6to4 (2002::/16): each IPv4 address of one /24 becomes a /48 network of its own', () => {
    // 2002:V4ADDR::/48 is derived from one IPv4 address: the /24 grouping the caps apply to
    // IPv4 is lost, and one /24 of IPv4 becomes 256 "networks" of 2,000 each.
    const a = classifyIp('2002:c633:6401::1')!; // 198.51.100.1
    const b = classifyIp('2002:c633:6402::1')!; // 198.51.100.2
    expect(a.network).toBe(b.network);
  });
});
