import { readFile } from 'node:fs/promises';
import { Argument } from 'commander';
import { ROLES, type Role } from '../../functions/src/core/operations/roles.ts';
import type { CommandContext } from './command-context.ts';
import { exportWithProgress, importWithAudit } from './jobs.ts';
import { renderExport, renderImport } from './render-backups.ts';
import { renderRole } from './render-changes.ts';

/** Users and backups: `role`, `export` to a local file and `import` from one. */

export function registerAdminCommands({ program, action, stdout, stderr }: CommandContext): void {
  program
    .command('role')
    .description("set a user's role claim (setUserRole)")
    .argument('<uid>', 'Firebase Auth uid')
    .addArgument(new Argument('<role>', 'the role').choices([...ROLES, 'none']))
    .action(
      action(async (run, uid: string, role: Role | 'none') => {
        const input = { uid, role: role === 'none' ? null : role };
        run.print(await run.call('setUserRole', input), renderRole);
      }),
    );

  program
    .command('export')
    .description(
      'back up configuration and state to a local file (checksummed JSON; the exportBackup callable writes to Cloud Storage)',
    )
    .option('--out <file>', 'the file to write (default: stdout)')
    .action(
      action(async (run, opts: { out?: string }) => {
        const { deps, projectId } = await run.session();
        const exported = await exportWithProgress(deps.db, {
          projectId,
          now: deps.now,
          progress: run.progress,
          actor: await run.actor(),
          out: opts.out ?? null,
          stdout,
        });
        const summary = {
          out: exported.out,
          documents: exported.documents,
          byCollection: exported.byCollection,
          checksum: exported.checksum,
          sha256: exported.sha256,
          bytes: exported.bytes,
          auditId: exported.auditId,
        };
        if (opts.out === undefined) {
          // The backup is the output; the summary goes to stderr.
          if (!run.json) stderr.write(`${renderExport(summary)}\n`);
          return;
        }
        run.print(summary, renderExport);
      }),
    );

  program
    .command('import')
    .description(
      'restore a backup file; a changed, truncated, corrupted or hostile file changes nothing',
    )
    .argument(
      '<file>',
      'a file written by tollgate export (or downloaded from an exportBackup object)',
    )
    .option('--dry-run', 'verify and count only; write nothing')
    .action(
      action(async (run, file: string, opts: { dryRun?: boolean }) => {
        const bytes = await readFile(file);
        const { deps } = await run.session();
        const result = await importWithAudit(deps.db, bytes, {
          dryRun: opts.dryRun ?? false,
          actor: await run.actor(),
          now: deps.now,
          progress: run.progress,
        });
        run.print(result, renderImport);
      }),
    );
}
