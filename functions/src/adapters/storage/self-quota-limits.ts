// The self-quota's limits and background share as stored (`providers/firestore`,
// `categories/firestore-pipeline`), applied to a monitor and read again once a minute.
import type { Firestore } from 'firebase-admin/firestore';
import type { SelfQuotaMonitor } from '../../core/storage/self-quota';
import {
  FIRESTORE_PIPELINE_CATEGORY,
  FIRESTORE_PROVIDER,
  type SelfQuotaSettings,
  selfQuotaSettings,
} from '../../core/storage/self-quota-config';
import { logger } from '../../log';

/** How long the limits read from Firestore are used before they are read again. */
export const SELF_QUOTA_LIMITS_CACHE_MS = 60_000;

/** Applies the stored limits and share to a monitor, read again once `cacheMs` has passed. */
export class SelfQuotaLimits {
  source: 'provider' | 'default' = 'default';
  private readAtMs = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private reported = '';
  private readonly now: () => number;
  private readonly cacheMs: number;

  constructor(
    private readonly db: Firestore,
    private readonly monitor: SelfQuotaMonitor,
    options: { now?: () => number; cacheMs?: number } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? SELF_QUOTA_LIMITS_CACHE_MS;
  }

  /** Reads the documents unless read within `cacheMs` (one reading at a time); never throws. */
  refresh(options: { force?: boolean } = {}): Promise<void> {
    if (this.inflight) return this.inflight;
    const now = this.now();
    if (!options.force && now - this.readAtMs < this.cacheMs) return Promise.resolve();
    this.readAtMs = now;
    this.inflight = this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    try {
      const [provider, category] = await this.db.getAll(
        this.db.doc(`providers/${FIRESTORE_PROVIDER}`),
        this.db.doc(`categories/${FIRESTORE_PIPELINE_CATEGORY}`),
      );
      this.apply(
        selfQuotaSettings(
          provider?.exists ? provider.data() : undefined,
          category?.exists ? category.data() : undefined,
        ),
      );
    } catch (error) {
      logger.warn(
        { err: error },
        'Firestore self-quota: reading its limits failed, kept as they were',
      );
    }
  }

  /**
   * Configures the monitor; a problem is logged when it first appears, not at every reading.
   * The limits applied here are this instance's own (see self-quota-runtime.ts): the fleet may
   * spend up to the number of instances times them.
   */
  apply(settings: SelfQuotaSettings): void {
    const problems = [...settings.problems];
    try {
      this.monitor.configure(settings.options);
      this.source = settings.limitsSource;
    } catch (error) {
      problems.push(String(error));
      this.monitor.configure({ limits: {}, backgroundShare: 1 });
      this.source = 'default';
    }
    const report = problems.join('\n');
    if (report !== this.reported && problems.length > 0) {
      logger.warn(
        { problems, limitsSource: this.source, limits: this.monitor.config.limits },
        'Firestore self-quota: configuration not used as stored',
      );
    }
    this.reported = report;
  }
}
