import { onCall } from 'firebase-functions/v2/https';
import { loadRuntimeConfig } from '../adapters/config-repository';
import { db, projectId, version } from '../adapters/firebase';
import { toHttpsError } from './errors';
import './options';

/** The validated configuration summary, read from Firestore. */
export const getStatus = onCall(async () => {
  try {
    const config = await loadRuntimeConfig(db());
    return {
      projectId: projectId(),
      version: version(),
      maintenance: config.flags.maintenance,
      flags: config.flags,
      providers: config.providers.map((p) => ({
        id: p.id,
        displayName: p.displayName ?? p.id,
        limits: p.limits,
        cooldownSeconds: p.cooldownSeconds,
      })),
      categories: config.categories.map((c) => ({
        id: c.id,
        provider: c.provider,
        sharePercent: c.overridePercent ?? c.sharePercent,
        priority: c.priority,
        paused: c.paused || (c.overridePercent ?? c.sharePercent) <= c.minSharePercent,
      })),
    };
  } catch (error) {
    throw toHttpsError(error);
  }
});
