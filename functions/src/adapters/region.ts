/** Read at load time, so `firebase deploy` picks it up from functions/.env as well. */
export const REGION = process.env.TOLLGATE_REGION ?? 'us-central1';
