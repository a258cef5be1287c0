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
  it('three /48s (free from an IPv6 tunnel broker) cannot spend the global cap for everyone: an honest network\'s new issuers still get their share', () => {
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
    // The cap, plus the third network's way up to an equal share; never more than twice it.
    expect(taken).toBeGreaterThanOrEqual(5_000);
    expect(taken).toBeLessThanOrEqual(2 * 5_000);
    // A lab's node in another network brings new issuers: up to a quarter of the cap (4 networks now).
    let lab = 0;
    for (let i = 0; i < 2_000; i++) if (adm.take(`12D3KooWHonestLab${Math.floor(i / 900)}`, classifyIp(`198.51.100.${20 + Math.floor(i / 900)}`)!) === undefined) lab++;
    expect(lab).toBe(Math.ceil(5_000 / 4));
    // A flooding network past its share gets nothing more this hour (the third had 1,667).
    expect(adm.take('12D3KooWSybilAgain', classifyIp('2001:db8:3:9::1')!)).toBe('global');
  });

});
