import cliProgress from 'cli-progress';

/** Below this many bytes a bar is noise. */
const MIN_TOTAL = 64 * 1024 * 1024;

/**
 * A byte progress bar on stderr, shown only on a terminal and only for large work, so
 * pipes and scripts see clean output.
 */
export function progressBar(label: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  let stopped = false;
  return {
    update(done, total) {
      if (stopped || total < MIN_TOTAL) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {eta_formatted}`, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.ceil(total / 2 ** 20), 0);
      }
      bar.update(Math.floor(done / 2 ** 20));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}
