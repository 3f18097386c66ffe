/**
 * Turns a Cloud Scheduler expression into a cron expression croner understands. Cloud
 * Scheduler takes unix-cron and the App Engine forms "every N minutes|hours" and
 * "every day HH:MM"; firebase-functions passes either through.
 */
export function toCron(schedule: string): string {
  const text = schedule.trim().toLowerCase();
  const every = /^every (\d+) (minute|minutes|mins|hour|hours)$/.exec(text);
  if (every) {
    const n = Number(every[1]);
    const unit = every[2]!.startsWith('h') ? 'hour' : 'minute';
    if (unit === 'minute') {
      if (n < 1 || n > 60 || 60 % n !== 0) throw new Error(`unsupported interval: ${schedule}`);
      return n === 60 ? '0 * * * *' : `*/${n} * * * *`;
    }
    if (n < 1 || n > 24 || 24 % n !== 0) throw new Error(`unsupported interval: ${schedule}`);
    return `0 */${n} * * *`;
  }
  const daily = /^every day (\d{1,2}):(\d{2})$/.exec(text);
  if (daily) return `${Number(daily[2])} ${Number(daily[1])} * * *`;
  return schedule.trim();
}
