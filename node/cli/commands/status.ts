import { Command } from 'commander';
import { action, type Cli } from '../context.js';

/** A budget is shown as near its limit from this share of it. */
const NEAR = 0.8;

function fmtUse(n: number, unit: string): string {
  if (unit === 'bytes') return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`;
  return `${Math.round(n).toLocaleString('en-US')} ${unit}`;
}

export function statusCommand(cli: Cli): Command {
  return new Command('status')
    .description("show this node's identity, whether it is running, store counts, trust list size, its network reachability, and the budgets near their limits")
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const s = { running: client.mode === 'daemon', ...(await client.status()) };
        if (opts.json) return void cli.json(s);
        const { api, network, running, budgets, ...rest } = s;
        const onOff = (b: boolean) => (b ? 'on' : 'off');
        const net = network
          ? {
              peerId: network.peerId,
              listen: network.listen.join(' '),
              peers: network.peers,
              reachability: `${network.reachability.state}   (upnp ${onOff(network.reachability.upnp)}, autonat ${onOff(network.reachability.autonat)}, relay ${network.reachability.relay}, relay server ${onOff(network.reachability.relayServer)}, dcutr ${onOff(network.reachability.dcutr)})`,
              ...(network.providers ? { providers: `${network.providers.announced} digests announced in the DHT, ${network.providers.pending} queued, ${network.providers.waiting} waiting for a peer` } : {}),
            }
          : { network: running ? 'off' : '-' };
        const state = running ? 'running' : 'no node running (start one: chorus start)';
        const lines = Object.entries({ node: state, ...rest, strangerPool: `${fmtUse(rest.strangerPool.usedBytes, 'bytes')} of ${fmtUse(rest.strangerPool.budgetBytes, 'bytes')}`, api: api.url ?? '-', ...(api.lan ? { lan: `${api.lan.url}  (certificate SHA-256 ${api.lan.fingerprint})` } : {}), ...net }).map(([k, v]) => `${k.padEnd(15)} ${String(v)}`);
        // Budgets at or past NEAR of their limit, each with the key that sets it (SPEC §14).
        const near = budgets.filter((b) => b.limit > 0 && b.used >= NEAR * b.limit);
        lines.push(`${'budgets'.padEnd(15)} ${near.length === 0 ? `all below ${NEAR * 100}% of their limits (${budgets.length} watched; chorus status --json lists them)` : `${near.length} near the limit:`}`);
        for (const b of near) lines.push(`${''.padEnd(15)} ${b.used >= b.limit ? 'AT LIMIT' : 'near'}  ${b.name}: ${fmtUse(b.used, b.unit)} of ${fmtUse(b.limit, b.unit)} (${Math.round((100 * b.used) / b.limit)}%)${b.config ? `, set by ${b.config}` : ''}`);
        cli.out(lines.join('\n'));
      });
    }));
}
