/** Every variable docker-compose.yml requires; each value is URL-safe (it is spliced into URLs). */
export const COMPOSE_SECRETS = [
  "CONCORD_POSTGRES_PASSWORD",
  "CONCORD_REDIS_PASSWORD",
  "CONCORD_ADMIN_SECRET",
  "CONCORD_API_KEY",
  "CONCORD_SECRET_BANK_A",
  "CONCORD_SECRET_BANK_B",
  "CONCORD_SECRET_BANK_C",
  "CONCORD_PEER_SECRET",
] as const;
