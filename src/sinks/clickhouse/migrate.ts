import { hostname } from 'node:os';
import type { Logger } from '../../telemetry/logger.js';
import type { SqlRunner } from './client.js';
import { appliedMigrationsSql, createDatabase, createMigrationsTable, MIGRATIONS, type SchemaTarget } from './schema.js';

// Versioned migrations recorded in <database>.schema_migrations. Safe to re-run: applied
// versions are skipped, and every statement is IF NOT EXISTS so a half-applied migration
// (crash between statements) completes on the next run.

export interface MigrationResult {
  /** Versions applied by this run. */
  applied: number[];
  /** Versions that were already recorded. */
  skipped: number[];
}

export async function migrate(runner: SqlRunner, target: SchemaTarget, logger: Logger, gateway = hostname()): Promise<MigrationResult> {
  await runner.command(createDatabase(target));
  for (const sql of createMigrationsTable(target)) await runner.command(sql);
  const done = new Set((await runner.rows<{ version: number | string }>(appliedMigrationsSql(target))).map((r) => Number(r.version)));
  const result: MigrationResult = { applied: [], skipped: [] };
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) {
      result.skipped.push(migration.version);
      continue;
    }
    for (const sql of migration.statements(target)) await runner.command(sql);
    const row = { version: migration.version, name: migration.name, applied_at: Math.floor(Date.now() / 1000), gateway };
    await runner.insert('schema_migrations', JSON.stringify(row) + '\n');
    logger.info({ version: migration.version, name: migration.name }, 'clickhouse schema migration applied');
    result.applied.push(migration.version);
  }
  return result;
}
