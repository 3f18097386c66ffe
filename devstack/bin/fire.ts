/** `npm run fire -- <scheduledFunction>`: runs a scheduled function now on the local stack. */
const name = process.argv[2];
const control = process.env.TOLLGATE_CONTROL_URL ?? 'http://127.0.0.1:4600';
if (!name) {
  const response = await fetch(`${control}/schedules`);
  console.log(JSON.stringify(await response.json(), null, 2));
  console.log('usage: npm run fire -- <name>');
  process.exit(1);
}
const response = await fetch(`${control}/schedules/${name}/fire`, { method: 'POST' });
console.log(JSON.stringify(await response.json()));
process.exit(response.ok ? 0 : 1);
