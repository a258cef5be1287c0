#!/usr/bin/env node
// The command's entry point. It imports nothing at the top, and is plain enough for any
// Node.js to parse, so an old Node hears a clear "too old" instead of a stack trace from
// some module deep in the program.
const MIN_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= MIN_MAJOR)) {
  process.stderr.write(`chorus: needs Node.js ${MIN_MAJOR} or newer (this is ${process.versions.node}); run it through npm (npx chorus, npm start), which brings Node ${MIN_MAJOR}, or install it\n`);
  process.exit(1);
}
// What this process creates (the data dir, LevelDB's files, the daemon file) is its
// owner's alone, whatever umask it was started with.
process.umask(0o077);
// A reader that goes away (chorus export | head -1) ends the command quietly: the output
// nobody reads is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
await import('./program.js');
