# One image for every Concord service; docker-compose.yml picks the entrypoint with `command`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so editing the sources does not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Concord needs no privileges; the official image ships the unprivileged `node` user.
USER node
EXPOSE 7000 7101 7102 7103
CMD ["node", "dist/coordinator/main.js"]
