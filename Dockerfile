# One image for every Concord service; docker-compose.yml picks the entrypoint with `command`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so editing the sources does not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build
# The durable log reads its Lua scripts and their includes (dist/shared/lua/includes) from disk
# when a service starts: expand every one now, so that a file missing from dist fails the build
# instead of the first service that starts.
RUN node --input-type=module -e "import { readdirSync } from 'node:fs'; \
  import { loadLuaScript } from './dist/shared/lua-scripts.js'; \
  for (const f of readdirSync('dist/shared/lua')) if (f.endsWith('.lua')) loadLuaScript('dist/shared/lua', f);"

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Concord needs no privileges; the official image ships the unprivileged `node` user.
USER node
EXPOSE 7000 7101 7102 7103 7104
CMD ["node", "dist/coordinator/main.js"]
