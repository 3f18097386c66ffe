/**
 * The audit log: one `auditLog/{autoId}` document per change, written in the same transaction
 * or batch as the change itself, so there is never a change without its entry nor an entry
 * without its change. A module of its own so the backup scope can name it without the API.
 */
export const AUDIT_LOG_COLLECTION = 'auditLog';
