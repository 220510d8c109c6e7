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
  "CONCORD_INVENTORY_ADMIN_SECRET",
  // Each service's operators (console, CLI, metrics): a role apart from the admin API.
  "CONCORD_COORDINATOR_OPERATOR_SECRET",
  "CONCORD_BANK_A_OPERATOR_SECRET",
  "CONCORD_BANK_B_OPERATOR_SECRET",
  "CONCORD_BANK_C_OPERATOR_SECRET",
  "CONCORD_INVENTORY_OPERATOR_SECRET",
  // Coordinator <-> each participant (HMAC).
  "CONCORD_SECRET_BANK_A",
  "CONCORD_SECRET_BANK_B",
  "CONCORD_SECRET_BANK_C",
  "CONCORD_SECRET_INVENTORY",
  // One per pair of participants, for asking each other (HMAC).
  "CONCORD_PEER_SECRET_BANK_A_BANK_B",
  "CONCORD_PEER_SECRET_BANK_A_BANK_C",
  "CONCORD_PEER_SECRET_BANK_B_BANK_C",
  "CONCORD_PEER_SECRET_BANK_A_INVENTORY",
  "CONCORD_PEER_SECRET_BANK_B_INVENTORY",
  "CONCORD_PEER_SECRET_BANK_C_INVENTORY",
  // Each Redis: its service's ACL user, and `admin`.
  "CONCORD_REDIS_COORDINATOR_PASSWORD",
  "CONCORD_REDIS_COORDINATOR_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_A_PASSWORD",
  "CONCORD_REDIS_BANK_A_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_B_PASSWORD",
  "CONCORD_REDIS_BANK_B_ADMIN_PASSWORD",
  "CONCORD_REDIS_BANK_C_PASSWORD",
  "CONCORD_REDIS_BANK_C_ADMIN_PASSWORD",
  "CONCORD_REDIS_INVENTORY_PASSWORD",
  "CONCORD_REDIS_INVENTORY_ADMIN_PASSWORD",
  // Each participant's PostgreSQL: its own role (concord_bank_x, concord_inventory), and the
  // superuser `postgres`.
  "CONCORD_POSTGRES_BANK_A_PASSWORD",
  "CONCORD_POSTGRES_BANK_A_ADMIN_PASSWORD",
  "CONCORD_POSTGRES_BANK_B_PASSWORD",
  "CONCORD_POSTGRES_BANK_B_ADMIN_PASSWORD",
  "CONCORD_POSTGRES_BANK_C_PASSWORD",
  "CONCORD_POSTGRES_BANK_C_ADMIN_PASSWORD",
  "CONCORD_POSTGRES_INVENTORY_PASSWORD",
  "CONCORD_POSTGRES_INVENTORY_ADMIN_PASSWORD",
  // The coordinator's PostgreSQL (its archive): its own role (coordinator), and `postgres`.
  "CONCORD_POSTGRES_COORDINATOR_PASSWORD",
  "CONCORD_POSTGRES_COORDINATOR_ADMIN_PASSWORD",
] as const;
