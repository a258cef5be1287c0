import { z } from 'zod';
import type { Status } from '../../src/reputation/view-schema.js';
import type { Config } from '../home/config.js';

export const CheckResultSchema = z.object({
  allow: z.boolean(),
  mode: z.enum(['deny-flagged', 'allowlist']),
  digest: z.string().describe('sha256:<hex>'),
  status: z.string().describe("the digest's status in this node's view"),
  reasons: z.array(z.string()).describe('why it is allowed or denied, one line each'),
  approvals: z.array(z.object({ id: z.string(), issuer: z.string(), name: z.string(), version: z.string().optional(), license: z.string().optional() })),
});
export type CheckResult = z.infer<typeof CheckResultSchema>;

/** What a check decides from (the node's view, live approvals, and, for files, inspection). */
export interface CheckInput {
  readonly digest: string;
  readonly status: Status;
  readonly reason: string;
  /** Live approvals of the digest by configured approvers. */
  readonly approvals: CheckResult['approvals'];
  /** For files: inspection's verdict (dangerous: a critical or high finding, or tampered). */
  readonly inspection?: { dangerous: boolean; detail: string } | undefined;
}

/**
 * The gate (SPEC §15): deny-flagged refuses what the view's status (config check.failOn,
 * default flagged) or inspection condemns; allowlist allows only what an approver approved,
 * and still refuses what inspection finds dangerous.
 */
export function decideCheck(i: CheckInput, cfg: Config['check']): CheckResult {
  const reasons: string[] = [];
  let allow: boolean;
  if (cfg.mode === 'allowlist') {
    allow = i.approvals.length > 0;
    reasons.push(allow
      ? `approved by ${i.approvals.map((a) => `${a.issuer} as ${a.name}${a.version ? `@${a.version}` : ''}${a.license ? ` (${a.license})` : ''}`).join('; ')}`
      : cfg.approvers.length === 0 ? 'allowlist mode and no approvers are configured (check.approvers): nothing is allowed' : 'not approved by any of the configured approvers');
  } else {
    allow = !cfg.failOn.includes(i.status as (typeof cfg.failOn)[number]);
    reasons.push(`${i.status} in your view: ${i.reason}`);
  }
  if (i.inspection?.dangerous) {
    allow = false;
    reasons.push(`inspection: ${i.inspection.detail}`);
  }
  return { allow, mode: cfg.mode, digest: `sha256:${i.digest}`, status: i.status, reasons, approvals: [...i.approvals] };
}
