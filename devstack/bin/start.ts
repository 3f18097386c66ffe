import { DEMO_PASSWORD, dashboardSignInLink } from '../src/auth.ts';
import { startDemo } from '../src/demo.ts';
import { startStack } from '../src/stack.ts';

/**
 * `npm start`: the whole local stack with the sandbox upstreams and the demo collections,
 * doing real work; Ctrl-C stops everything. `--quiet` leaves out the emulators' own lines.
 */
const quiet = process.argv.includes('--quiet');
const stack = await startStack({
  ports: 'fixed',
  spapiProcessingMs: 5_000,
  // The schedules run by the clock, as deployed (the tests fire them by hand instead).
  schedules: 'cron',
  log: (line) => {
    if (!quiet || !line.startsWith('[firebase]')) console.log(line);
  },
});
const { urls, projectId, region } = stack;
const demo = await startDemo(stack, { log: (line) => console.log(line) });
const base = `${urls.functions}/${projectId}/${region}`;
console.log(`
Tollgate dashboard: ${urls.hosting}/
  signed in as the demo operator: ${dashboardSignInLink(urls.hosting, demo.users.operator)}
  (or sign in as ${demo.users.viewer} / ${demo.users.operator}, password ${DEMO_PASSWORD})

Tollgate local stack is up (project ${projectId}), with sandbox upstreams and demo collections.
  health        ${urls.health}   (status only; the report: -H "authorization: Bearer $METRICS")
  metrics       curl -s -H "authorization: Bearer $METRICS" ${base}/metrics
                (METRICS: the metrics token, in functions/.secret.local and .tollgate/metrics-token)
  getStatus     curl -s -X POST -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"data":{}}' ${base}/getStatus
                (TOKEN: an operator's ID token, written to .tollgate/operator-token)
  functions     ${urls.functions}
  hosting       ${urls.hosting} (the dashboard)
  auth          ${urls.auth}
  cloud tasks   ${urls.tasks}
  firestore     ${urls.firestore} (FIRESTORE_EMULATOR_HOST)
  storage       ${urls.storage} (STORAGE_EMULATOR_HOST)
  control       ${urls.control}/schedules (fire one: npm run fire -- <name> [--at <time>])
  sandboxes     keepa ${urls.keepa}, sp-api ${urls.spapi}, proxy ${urls.proxy}, price site ${urls.site}
                (state: ${urls.control}/sandboxes; misbehave: POST ${urls.control}/sandboxes/<name>/misbehave {"mode":"429"})
Scheduled functions (${stack.scheduler.functions.map((f) => f.name).join(', ')}) run on this
stack's scheduler by their cron; the demo also fires collectionBatches every 30 s.
Press Ctrl-C to stop.
`);
const { mkdirSync, writeFileSync } = await import('node:fs');
mkdirSync('.tollgate', { recursive: true });
writeFileSync('.tollgate/operator-token', demo.operatorToken);
writeFileSync('.tollgate/metrics-token', stack.metricsToken);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local stack…`);
  await demo.stop();
  await stack.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
