export { createPool, query, type Pool, type PoolClient, type PoolOptions, type Queryable } from './pool.js';
export { withTransaction, type IsolationLevel, type TransactionOptions } from './transaction.js';
export {
  migrate,
  readMigrations,
  sha256,
  type MigrateOptions,
  type MigrateResult,
  type MigrationFile,
} from './migrate.js';
export {
  fromPgError,
  isDatabaseError,
  isPgError,
  isRetryableSqlState,
  kindForSqlState,
  sqlStateOf,
  type PgErrorLike,
} from './errors.js';
