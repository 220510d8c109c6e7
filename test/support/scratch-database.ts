/**
 * A database of its own on one of the shared cluster's PostgreSQL servers, for a test that runs
 * a participant in-process: created before, dropped (even while connected) after.
 */
import pg from "pg";

async function asAdmin(serverAdminUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverAdminUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

export interface ScratchDatabase {
  /** The new database, as the server's superuser. */
  adminUrl: string;
  drop(): Promise<void>;
}

/** `database` must be a plain identifier the test made (e.g. `concord_cv_<pid>`). */
export async function createScratchDatabase(
  serverAdminUrl: string,
  database: string,
): Promise<ScratchDatabase> {
  await asAdmin(serverAdminUrl, `CREATE DATABASE ${database}`);
  const url = new URL(serverAdminUrl);
  url.pathname = `/${database}`;
  return {
    adminUrl: url.toString(),
    drop: () => asAdmin(serverAdminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  };
}
