import { defineInt } from 'firebase-functions/params';
import {
  boundedCallerLimit,
  type CallerRateLimit,
  DEFAULT_CALLER_RATE_LIMIT,
} from '../../core/quota/callers';

/**
 * The per-user call limit of the callables (functions/.env): a deploy-time parameter, not a
 * flag, so no caller (an operator's stolen token included) can lift it through the API.
 */
const perMinute = defineInt('TOLLGATE_CALLS_PER_MINUTE', {
  default: DEFAULT_CALLER_RATE_LIMIT.perMinute,
});
const burst = defineInt('TOLLGATE_CALL_BURST', { default: DEFAULT_CALLER_RATE_LIMIT.burst });

/** The deployed limit, read at run time; out-of-bounds values fall back to the default. */
export function deployedCallerLimit(): CallerRateLimit {
  return boundedCallerLimit({ perMinute: perMinute.value(), burst: burst.value() });
}
