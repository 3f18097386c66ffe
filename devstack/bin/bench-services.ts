import { startTokenBucketUpstream } from '../src/bench/token-bucket-upstream.ts';
import { startFirestore } from '../src/emulators/firestore/index.ts';

/**
 * The bench's services in a process of their own (the second core): the embedded Firestore
 * emulator and the token-bucket upstream. Prints one JSON line with their addresses, then
 * serves until its parent closes stdin.
 */
const firestore = await startFirestore({});
// Each scenario resets the bucket to its own shape before it starts.
const upstream = await startTokenBucketUpstream({ capacity: 1000, refillPerSecond: 1000 });
console.log(JSON.stringify({ firestore: firestore.hostPort, upstream: upstream.url }));
process.stdin.resume();
process.stdin.on('end', async () => {
  await upstream.stop();
  await firestore.stop();
  process.exit(0);
});
