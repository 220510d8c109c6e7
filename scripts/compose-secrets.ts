/**
 * Every variable docker-compose.yml requires, one per service and purpose: no two services share
 * a credential they need not share (the docker-compose test holds each service to its own list).
 * Each value is URL-safe: it is spliced into URLs.
 */
export const COMPOSE_SECRETS = [
  // The clients' API key (the coordinator's key id `client`).
  "CONCORD_API_KEY",
  // Each service's admin API.
  "CONCORD_COORDINATOR_ADMIN_SECRET",
  "CONCORD_BANK_A_ADMIN_SECRET",
  "CONCORD_BANK_B_ADMIN_SECRET",
  "CONCORD_BANK_C_ADMIN_SECRET",
  // Coordinator <-> each bank (HMAC).
  "CONCORD_SECRET_BANK_A",
  "CONCORD_SECRET_BANK_B",
  "CONCORD_SECRET_BANK_C",
  // One per pair of banks, for asking each other (HMAC).
  "CONCORD_PEER_SECRET_BANK_A_BANK_B",
  "CONCORD_PEER_SECRET_BANK_A_BANK_C",
  "CONCORD_PEER_SECRET_BANK_B_BANK_C",
  // Each Redis: its service's ACL user, and `admin`.
  "CONCORD_REDIS_COORDINATOR_PASSWORD",
  "CONCORD_REDIS_COORDINATOR_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_A_PASSWORD",
  "CONCORD_REDIS_BANK_A_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_B_PASSWORD",
  "CONCORD_REDIS_BANK_B_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_C_PASSWORD",
  "CONCORD_REDIS_BANK_C_ADMIN_PASSWORD",
  // Each bank's PostgreSQL: the bank's own role (concord_bank_x), and the superuser `postgres`.
  "CONCORD_POSTGRES_BANK_A_PASSWORD",
  "CONCORD_POSTGRES_BANK_A_ADMIN_PASSWORD",
  "CONCORD_POSTGRES_BANK_B_PASSWORD",
  "CONCORD_POSTGRES_BANK_B_ADMIN_PASSWORD",
  "CONCORD_POSTGRES_BANK_C_PASSWORD",
  "CONCORD_POSTGRES_BANK_C_ADMIN_PASSWORD",
] as const;
