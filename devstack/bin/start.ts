import { startStack } from '../src/stack.ts';

/** `npm start`: the whole local stack with demo data; Ctrl-C stops everything. */
const stack = await startStack({ ports: 'fixed' });
const { urls, projectId, region } = stack;
console.log(`
Tollgate local stack is up (project ${projectId}).
  health        ${urls.health}
  getStatus     curl -s -X POST -H 'content-type: application/json' -d '{"data":{}}' ${urls.functions}/${projectId}/${region}/getStatus
  functions     ${urls.functions}
  hosting       ${urls.hosting}
  auth          ${urls.auth}
  cloud tasks   ${urls.tasks}
  firestore     ${urls.firestore} (FIRESTORE_EMULATOR_HOST)
  storage       ${urls.storage} (STORAGE_EMULATOR_HOST)
  control       ${urls.control}/schedules (fire one: npm run fire -- <name>)
Scheduled functions (${stack.scheduler.functions.map((f) => f.name).join(', ')}) run on this
stack's scheduler, by their cron; firebase-tools calls them "ignored" only because there is no
Pub/Sub emulator.
Press Ctrl-C to stop.
`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local stack…`);
  await stack.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
