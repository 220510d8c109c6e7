/**
 * Linked accounts: an account that belongs to a customer may go below zero (checking overdrawn
 * while savings cover it) as long as the customer's accounts at this bank together stay at or
 * above zero. Unlinked accounts keep `balance >= 0`.
 *
 * The rule lives in PostgreSQL, so that both of the bank's write paths (the bound statement of
 * `execute`, the literal text of the one-round-trip prepare) obey it without a line of their
 * own, and BALANCE_UPDATE_SQL stays the plain statement the benchmark also runs:
 *
 * - the CHECK becomes `balance >= 0 OR customer IS NOT NULL` (same name, so that a CHECK
 *   violation still reads as insufficient-funds for an unlinked account);
 * - a trigger sums the customer's balances after a linked account is debited and, when the sum
 *   is below zero, refuses through concord_refuse (pg-store.ts): the participant votes NO with
 *   reason `insufficient-funds` and the detail below, on either path.
 *
 * The trigger is a constraint trigger, deferred to the end of the transaction (PREPARE
 * TRANSACTION, or COMMIT in one phase): the bank applies a transaction's operations in account
 * order, and a move between two accounts of one customer (debit checking, credit savings) would
 * otherwise be judged half done, after the debit and before the credit, refused or not
 * depending on how the two accounts' ids sort. Its WHEN clause is evaluated at once, on the
 * updated row, and only a true one queues the trigger: an unlinked account's update (and a
 * credit) queues nothing.
 *
 * The sum is a plain SELECT: no FOR UPDATE or FOR SHARE on the customer's other accounts, and
 * the bank's lock keys name only the accounts an operation names (bank-operations.ts). That is
 * deliberate: the rule is a predicate over rows the request does not name, and only the
 * transaction's isolation level protects it. At READ COMMITTED, two concurrent debits of
 * alice-checking and alice-savings each see the other's account as last committed, both pass
 * and together take alice below zero (write skew); at SERIALIZABLE, PostgreSQL's SSI sees the
 * two read-write dependencies and fails one of them (serialization-failure).
 */
import type { Migration } from "../framework/pg-store.js";

/** The trigger's function: also the step's mark of being applied (see migrate, pg-store.ts). */
const CHECK_FUNCTION = "bank_customer_total_check()";

/** The customer-total rule, as one migration step (one transaction: never a looser CHECK alone). */
export const CUSTOMER_TOTAL_MIGRATION: Migration = {
  relation: CHECK_FUNCTION,
  kind: "function",
  sql: `ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_balance_check,
          ADD CONSTRAINT accounts_balance_check CHECK (balance >= 0 OR customer IS NOT NULL);
        CREATE OR REPLACE FUNCTION ${CHECK_FUNCTION} RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          total numeric;
        BEGIN
          -- No FOR UPDATE / FOR SHARE: see customer-total.ts (write skew at READ COMMITTED).
          SELECT sum(balance) INTO total FROM accounts WHERE customer = NEW.customer;
          IF total < 0 THEN
            PERFORM concord_refuse(json_build_object(
              'reason', 'insufficient-funds',
              'account', NEW.id,
              'amount', (OLD.balance - NEW.balance)::text,
              'customer', NEW.customer,
              'total', total::text,
              'message', format('the accounts of customer %s at this bank would total %s', NEW.customer, total))::text);
          END IF;
          RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS accounts_customer_total ON accounts;
        CREATE CONSTRAINT TRIGGER accounts_customer_total AFTER UPDATE ON accounts
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
          WHEN (NEW.customer IS NOT NULL AND NEW.balance < OLD.balance)
          EXECUTE FUNCTION ${CHECK_FUNCTION}`,
};
