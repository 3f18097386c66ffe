import { parseArgs } from 'node:util';

/**
 * `npm run fire -- <scheduledFunction> [--at <time>]`: runs a scheduled function now on the
 * local stack. `--at 2026-05-01T18:00:00Z` fires it as if Cloud Scheduler had fired it at that
 * time: the function gets it as `event.scheduleTime` (payloadCleanup's cut-off, dataValidation's
 * run id); everything else still runs on the real clock.
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { at: { type: 'string' } },
});
const name = positionals[0];
const control = process.env.TOLLGATE_CONTROL_URL ?? 'http://127.0.0.1:4600';
if (!name) {
  const response = await fetch(`${control}/schedules`);
  console.log(JSON.stringify(await response.json(), null, 2));
  console.log('usage: npm run fire -- <name> [--at <RFC 3339 time, e.g. 2026-05-01T18:00:00Z>]');
  process.exit(1);
}
const response = await fetch(`${control}/schedules/${name}/fire`, {
  method: 'POST',
  ...(values.at
    ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ at: values.at }) }
    : {}),
});
console.log(JSON.stringify(await response.json()));
process.exit(response.ok ? 0 : 1);
