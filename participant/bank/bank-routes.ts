/**
 * The bank's own endpoints: read accounts, customers and the ledger; open accounts
 * (administrators only).
 */
import type { Express } from "express";
import type { Pool } from "pg";
import { z } from "zod";
import type { Authenticator } from "../../shared/auth.js";
import { mountRoute, type RouteSpec } from "../../shared/routes.js";
import { AccountExistsError, NotFoundError } from "../../shared/errors.js";
import { parseWith } from "../../shared/http-server.js";
import type { Logger } from "../../shared/logger.js";
import { queryInt, txidSchema } from "../../shared/messages.js";
import { wireErrorSchema } from "../../shared/wire-errors.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import { accountIdSchema, customerIdSchema, openAccountSchema } from "./bank-operations.js";

const listQuerySchema = z.object({ limit: queryInt(1, 10_000, 1000) }).strict();
const ledgerQuerySchema = z
  .object({
    txid: txidSchema.optional(),
    account: accountIdSchema.optional(),
    limit: queryInt(1, 10_000, 100),
  })
  .strict();

const moneySchema = z.string().regex(/^-?[0-9]+$/);
const accountAnswerSchema = z.object({
  id: accountIdSchema,
  balance: moneySchema,
  version: z.number().int(),
  /** The customer the account belongs to (customer-total.ts), null for none. */
  customer: customerIdSchema.nullable(),
});
const customerAnswerSchema = z.object({
  customer: customerIdSchema,
  accounts: z.array(
    z.object({ id: accountIdSchema, balance: moneySchema, version: z.number().int() }),
  ),
  /** The sum of the customer's balances here: never below zero (customer-total.ts). */
  total: moneySchema,
});
const accountsAnswerSchema = z.object({
  accounts: z.array(accountAnswerSchema),
  total: moneySchema,
  count: z.number().int(),
});
const ledgerAnswerSchema = z.object({
  entries: z.array(
    z.object({
      txid: txidSchema.nullable(),
      account: accountIdSchema,
      delta: moneySchema,
      kind: z.string(),
      at: z.string().datetime(),
    }),
  ),
});

/**
 * Balances and the ledger are the bank's business, and opening an account with a balance creates
 * money: every route is for this bank's operators (its own admin secret) only.
 */
export const BANK_ROUTES = {
  listAccounts: {
    method: "GET",
    path: "/v1/accounts",
    callers: ["admin"],
    summary: "all accounts and the bank's total",
    query: listQuerySchema,
    responses: { 200: { description: "the accounts, by id", schema: accountsAnswerSchema } },
  },
  getAccount: {
    method: "GET",
    path: "/v1/accounts/:id",
    callers: ["admin"],
    summary: "one account's balance and version",
    params: { id: accountIdSchema },
    responses: {
      200: { description: "the account", schema: accountAnswerSchema },
      404: { description: "no such account", schema: wireErrorSchema },
    },
  },
  getCustomer: {
    method: "GET",
    path: "/v1/customers/:customer",
    callers: ["admin"],
    summary: "a customer's accounts at this bank and their total",
    params: { customer: customerIdSchema },
    responses: {
      200: { description: "the customer's accounts, by id", schema: customerAnswerSchema },
      404: { description: "no account belongs to this customer", schema: wireErrorSchema },
    },
  },
  openAccount: {
    method: "POST",
    path: "/v1/accounts",
    callers: ["admin"],
    summary: "opens and funds an account, of a customer if one is named: how money enters",
    body: openAccountSchema,
    responses: {
      201: { description: "opened, with its 'open' ledger entry", schema: accountAnswerSchema },
      409: { description: "account-exists: the id is taken", schema: wireErrorSchema },
    },
  },
  ledger: {
    method: "GET",
    path: "/v1/ledger",
    callers: ["admin"],
    summary: "ledger entries, newest first",
    query: ledgerQuerySchema,
    responses: { 200: { description: "newest first", schema: ledgerAnswerSchema } },
  },
} as const satisfies Record<string, RouteSpec>;

export function mountBankRoutes(
  app: Express,
  ctx: { pool: Pool; logger: Logger; auth: Authenticator },
): void {
  const { pool, auth } = ctx;

  mountRoute(app, auth, BANK_ROUTES.listAccounts, async (req, res) => {
    const q = parseWith(BANK_ROUTES.listAccounts.query, req.query, "query");
    const { rows } = await pool.query<AccountRow>(
      "SELECT id, balance::text AS balance, version::text AS version, customer FROM accounts ORDER BY id LIMIT $1",
      [q.limit],
    );
    const total = await pool.query<{ total: string; count: string }>(
      "SELECT COALESCE(sum(balance), 0)::text AS total, count(*)::text AS count FROM accounts",
    );
    res.json({
      accounts: rows.map(accountAnswer),
      total: total.rows[0]?.total ?? "0",
      count: Number(total.rows[0]?.count ?? 0),
    });
  });

  mountRoute(app, auth, BANK_ROUTES.getAccount, async (req, res) => {
    const id = parseWith(BANK_ROUTES.getAccount.params.id, req.params.id, "params.id");
    const { rows } = await pool.query<AccountRow>(
      "SELECT id, balance::text AS balance, version::text AS version, customer FROM accounts WHERE id = $1",
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError(`account ${id} does not exist`);
    res.json(accountAnswer(row));
  });

  mountRoute(app, auth, BANK_ROUTES.getCustomer, async (req, res) => {
    const customer = parseWith(
      BANK_ROUTES.getCustomer.params.customer,
      req.params.customer,
      "params.customer",
    );
    res.json(await readCustomer(pool, customer));
  });

  // Opening an account with a balance creates money outside any transfer, so it is an
  // administrator's act, and leaves an 'open' ledger entry so that balances always equal the sum
  // of their ledger.
  mountRoute(app, auth, BANK_ROUTES.openAccount, async (req, res) => {
    const body = parseWith(BANK_ROUTES.openAccount.body, req.body, "body");
    const customer = body.customer ?? null;
    await insertFundedAccount(pool, body.id, body.balance, customer);
    ctx.logger.info({ account: body.id, balance: body.balance, customer }, "account opened");
    res.status(201).json({ id: body.id, balance: body.balance, version: 0, customer });
  });

  mountRoute(app, auth, BANK_ROUTES.ledger, async (req, res) => {
    const q = parseWith(BANK_ROUTES.ledger.query, req.query, "query");
    res.json({ entries: await readLedger(pool, q) });
  });
}

/**
 * The account and its 'open' ledger entry in one PostgreSQL transaction, so that a balance never
 * exists without the entry that explains it. An id already taken is AccountExistsError.
 */
async function insertFundedAccount(
  pool: Pool,
  id: string,
  balance: string,
  customer: string | null,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO accounts (id, balance, customer) VALUES ($1, $2::bigint, $3)", [
      id,
      balance,
      customer,
    ]);
    await client.query(
      "INSERT INTO ledger (txid, account, delta, kind) VALUES (NULL, $1, $2::bigint, 'open')",
      [id, balance],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    if (pgCode(err) === PG.uniqueViolation) throw new AccountExistsError(id);
    throw err;
  } finally {
    client.release();
  }
}

interface AccountRow {
  id: string;
  balance: string;
  version: string;
  customer: string | null;
}

function accountAnswer(r: AccountRow): z.infer<typeof accountAnswerSchema> {
  return { id: r.id, balance: r.balance, version: Number(r.version), customer: r.customer };
}

/** A customer's accounts and their total, in one statement (one snapshot): a 404 when none. */
async function readCustomer(
  pool: Pool,
  customer: string,
): Promise<z.infer<typeof customerAnswerSchema>> {
  const { rows } = await pool.query<AccountRow & { total: string }>(
    `SELECT id, balance::text AS balance, version::text AS version, customer,
            (sum(balance) OVER ())::text AS total
       FROM accounts WHERE customer = $1 ORDER BY id`,
    [customer],
  );
  const first = rows[0];
  if (!first) throw new NotFoundError(`no account at this bank belongs to customer ${customer}`);
  return {
    customer,
    accounts: rows.map((r) => ({ id: r.id, balance: r.balance, version: Number(r.version) })),
    total: first.total,
  };
}

/** Ledger entries, newest first, filtered by txid and account when the query names them. */
async function readLedger(
  pool: Pool,
  q: z.infer<typeof ledgerQuerySchema>,
): Promise<{ txid: string | null; account: string; delta: string; kind: string; at: string }[]> {
  const { rows } = await pool.query<{
    txid: string | null;
    account: string;
    delta: string;
    kind: string;
    at: Date;
  }>(
    `SELECT txid, account, delta::text AS delta, kind, at FROM ledger
        WHERE ($1::uuid IS NULL OR txid = $1::uuid) AND ($2::text IS NULL OR account = $2)
        ORDER BY id DESC LIMIT $3`,
    [q.txid ?? null, q.account ?? null, q.limit],
  );
  return rows.map((r) => ({
    txid: r.txid,
    account: r.account,
    delta: r.delta,
    kind: r.kind,
    at: r.at.toISOString(),
  }));
}
