/**
 * A fault-injecting TCP proxy for the chaos runner. It sits between the coordinator and one
 * participant and, on command, delays traffic, loses a reply after the participant applied the
 * request, resets connections, or refuses them (a partition): the network faults of docs/design.md
 * section 6 that failpoints inside a process cannot produce. It works on bytes, not on HTTP, so
 * both sides see exactly what a real network failure would show them.
 */
import { strict as assert } from "node:assert";
import net from "node:net";
import { performance } from "node:perf_hooks";

export type ProxyMode =
  | { kind: "pass" }
  /** Each chunk in both directions is held for `ms`, in order. */
  | { kind: "delay"; ms: number }
  /** The request reaches the target, whose reply is swallowed; the client's connection is then closed: applied, never acknowledged. */
  | { kind: "drop-reply"; count?: number }
  /** Every client connection is reset (RST) on connect and on any data. */
  | { kind: "reset" }
  /** A partition: the port is closed, so connects fail with ECONNREFUSED. */
  | { kind: "refuse" };

export interface FaultProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  readonly listenHost?: string;
  /** Default 0, a free port chosen by the system. */
  readonly port?: number;
}

export interface FaultProxyStats {
  /** Client connections accepted since start, including those reset or closed at once. */
  readonly connections: number;
  readonly droppedReplies: number;
  /** Client connections reset with an RST. */
  readonly resets: number;
  /** Times the proxy entered the refuse mode. */
  readonly refusedPeriods: number;
}

/** A new connection beyond this many open ones is closed at once, so a runaway client cannot exhaust the host's file descriptors. */
export const MAX_CONNECTIONS = 1024;

/** Node fires a timer longer than 2^31-1 ms at once, and no fault needs a reply later than ten minutes. */
export const MAX_DELAY_MS = 600_000;

/** Bytes one direction may hold (queued for a delay plus unsent in the socket) before its source is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** The source resumes well below the high-water mark, so a slow reader does not make it flap on every chunk. */
const LOW_WATER_BYTES = HIGH_WATER_BYTES / 4;

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** Names such as "localhost" are refused too: what a name resolves to is not the proxy's to trust. */
function isLoopbackAddress(host: string): boolean {
  const family = net.isIP(host);
  if (family === 4) return LOOPBACK.check(host, "ipv4");
  if (family === 6) return LOOPBACK.check(host, "ipv6");
  return false;
}

function assertPort(port: number, min: number, what: string): void {
  assert(
    Number.isInteger(port) && port >= min && port <= 65_535,
    `${what} must be an integer in ${min}..65535, got ${port}`,
  );
}

function assertValidMode(mode: ProxyMode): void {
  switch (mode.kind) {
    case "pass":
    case "reset":
    case "refuse":
      return;
    case "delay":
      assert(
        Number.isFinite(mode.ms) && mode.ms >= 0 && mode.ms <= MAX_DELAY_MS,
        `delay ms must be within 0..${MAX_DELAY_MS}, got ${mode.ms}`,
      );
      return;
    case "drop-reply":
      assert(
        mode.count === undefined || (Number.isInteger(mode.count) && mode.count >= 1),
        `drop-reply count must be a positive integer, got ${mode.count}`,
      );
      return;
    default:
      assert.fail(`unknown proxy mode ${JSON.stringify(mode)}`);
  }
}

/** A private, frozen copy: the caller may reuse its object, and `mode` hands ours out. */
function copyMode(mode: ProxyMode): ProxyMode {
  switch (mode.kind) {
    case "delay":
      return Object.freeze({ kind: "delay", ms: mode.ms });
    case "drop-reply":
      return Object.freeze(
        mode.count === undefined
          ? { kind: "drop-reply" }
          : { kind: "drop-reply", count: mode.count },
      );
    default:
      return Object.freeze({ kind: mode.kind });
  }
}

function sameMode(a: ProxyMode, b: ProxyMode): boolean {
  if (a.kind === "delay" && b.kind === "delay") return a.ms === b.ms;
  if (a.kind === "drop-reply" && b.kind === "drop-reply") return a.count === b.count;
  return a.kind === b.kind;
}

/** pass and delay differ only in timing, so a live connection can change between them without losing a byte. */
function isTimingOnly(mode: ProxyMode): boolean {
  return mode.kind === "pass" || mode.kind === "delay";
}

function delayMsOf(mode: ProxyMode): number {
  return mode.kind === "delay" ? mode.ms : 0;
}

function resetSocket(socket: net.Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    // A socket without a TCP handle cannot send an RST; closing it is the nearest fault left.
    socket.destroy();
  }
}

/** `null` stands for the end of the stream, which must reach the peer after every delayed byte. */
type Chunk = Buffer | null;

/** One direction of a connection: chunks in arrival order, each released when its delay is over. */
class Direction {
  private queue: { dueAtMs: number; chunk: Chunk }[] = [];
  private queuedBytes = 0;
  private lastDueAtMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
  ) {
    dst.on("drain", () => {
      this.resumeIfDrained();
    });
  }

  push(chunk: Chunk, delayMs: number): void {
    // A shorter delay set while older chunks wait must not overtake them: order is kept, not the delay.
    const dueAtMs = Math.max(performance.now() + delayMs, this.lastDueAtMs);
    this.lastDueAtMs = dueAtMs;
    if (delayMs === 0 && this.queue.length === 0) {
      this.deliver(chunk);
    } else {
      this.queue.push({ dueAtMs, chunk });
      this.queuedBytes += chunk?.length ?? 0;
      this.schedule();
    }
    if (this.heldBytes() > HIGH_WATER_BYTES) this.src.pause();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.queuedBytes = 0;
  }

  private heldBytes(): number {
    return this.queuedBytes + this.dst.writableLength;
  }

  private schedule(): void {
    const head = this.queue[0];
    if (head === undefined || this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.release();
      },
      Math.max(0, head.dueAtMs - performance.now()),
    );
  }

  private release(): void {
    this.timer = undefined;
    const now = performance.now();
    for (
      let head = this.queue[0];
      head !== undefined && head.dueAtMs <= now;
      head = this.queue[0]
    ) {
      this.queue.shift();
      this.queuedBytes -= head.chunk?.length ?? 0;
      this.deliver(head.chunk);
    }
    this.schedule();
    this.resumeIfDrained();
  }

  private deliver(chunk: Chunk): void {
    // The peer may be gone already; its 'close' tears the whole connection down.
    if (this.dst.destroyed || this.dst.writableEnded) return;
    if (chunk === null) this.dst.end();
    else this.dst.write(chunk);
  }

  private resumeIfDrained(): void {
    if (this.src.isPaused() && !this.src.destroyed && this.heldBytes() <= LOW_WATER_BYTES)
      this.src.resume();
  }
}

/** A client connection and the connection opened for it to the target. */
class Link {
  readonly toTarget: Direction;
  readonly toClient: Direction;

  constructor(
    readonly client: net.Socket,
    readonly target: net.Socket,
  ) {
    this.toTarget = new Direction(client, target);
    this.toClient = new Direction(target, client);
  }

  destroy(): void {
    this.toTarget.dispose();
    this.toClient.dispose();
    this.client.destroy();
    this.target.destroy();
  }
}

export class FaultProxy {
  private readonly targetHost: string;
  private readonly targetPort: number;
  private readonly listenHost: string;
  private readonly requestedPort: number;
  private server: net.Server | undefined;
  private port: number | undefined;
  private current: ProxyMode = Object.freeze({ kind: "pass" });
  private readonly links = new Set<Link>();
  private started = false;
  private stopped = false;
  /** Mode changes and stop run one at a time: a refuse and a pass racing must not leave two listeners or none. */
  private transitions: Promise<void> = Promise.resolve();
  private counts = { connections: 0, droppedReplies: 0, resets: 0, refusedPeriods: 0 };

  constructor(opts: FaultProxyOptions) {
    const listenHost = opts.listenHost ?? "127.0.0.1";
    // A fault proxy on a public interface would let anyone on the network inject traffic into a participant.
    if (!isLoopbackAddress(listenHost))
      throw new Error(
        `FaultProxy listens only on loopback addresses (127.0.0.0/8 or ::1), not ${listenHost}`,
      );
    assert(opts.targetHost.length > 0, "targetHost must not be empty");
    assertPort(opts.targetPort, 1, "targetPort");
    assertPort(opts.port ?? 0, 0, "port");
    this.targetHost = opts.targetHost;
    this.targetPort = opts.targetPort;
    this.listenHost = listenHost;
    this.requestedPort = opts.port ?? 0;
  }

  get mode(): ProxyMode {
    return this.current;
  }

  get stats(): FaultProxyStats {
    return { ...this.counts };
  }

  /** Resolves with the listening port, which later refuse periods give up and take back. */
  start(): Promise<number> {
    assert(!this.started && !this.stopped, "FaultProxy.start may be called once, before stop");
    this.started = true;
    return this.serialize(async () => {
      this.port = await this.listen(this.requestedPort);
      return this.port;
    });
  }

  /**
   * Open connections are closed so that new ones see the new mode; only a change between pass and
   * delay keeps them. Setting the mode the proxy already reports does nothing.
   */
  setMode(mode: ProxyMode): Promise<void> {
    assertValidMode(mode);
    const next = copyMode(mode);
    return this.serialize(async () => {
      if (this.stopped) throw new Error("FaultProxy.setMode after stop");
      assert(this.port !== undefined, "FaultProxy.setMode before start");
      await this.apply(next, this.port);
    });
  }

  stop(): Promise<void> {
    return this.serialize(async () => {
      if (this.stopped) return;
      this.stopped = true;
      const closing = this.closeServer();
      this.destroyLinks(false);
      await closing;
    });
  }

  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const result = this.transitions.then(step);
    this.transitions = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async apply(next: ProxyMode, port: number): Promise<void> {
    const previous = this.current;
    if (sameMode(previous, next)) return;
    // Listen again before the mode changes: if the port was taken meanwhile, the proxy stays in a
    // consistent refuse mode and the caller sees the error.
    if (previous.kind === "refuse") await this.listen(port);
    this.current = next;
    if (next.kind === "refuse") {
      this.counts.refusedPeriods += 1;
      const closing = this.closeServer();
      this.destroyLinks(false);
      await closing;
    } else if (!(isTimingOnly(previous) && isTimingOnly(next))) {
      this.destroyLinks(next.kind === "reset");
    }
  }

  private listen(port: number): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      this.accept(socket);
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: this.listenHost, port }, () => {
        server.off("error", reject);
        // Accept errors (EMFILE and the like) concern one connection; the proxy must not crash its host over them.
        server.on("error", () => undefined);
        this.server = server;
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Resolves once the port is closed; the connections still open are the caller's to destroy. */
  private closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }

  private destroyLinks(reset: boolean): void {
    for (const link of this.links) {
      if (reset) {
        this.counts.resets += 1;
        resetSocket(link.client);
      }
      link.destroy();
    }
    this.links.clear();
  }

  private accept(client: net.Socket): void {
    // Errors are expected here (peers vanish, the proxy resets them); 'close' follows and cleans up.
    client.on("error", () => undefined);
    this.counts.connections += 1;
    const mode = this.current;
    if (mode.kind === "reset") {
      this.counts.resets += 1;
      resetSocket(client);
      return;
    }
    if (mode.kind === "refuse" || this.stopped || this.links.size >= MAX_CONNECTIONS) {
      client.destroy();
      return;
    }
    const target = net.connect({
      host: this.targetHost,
      port: this.targetPort,
      allowHalfOpen: true,
    });
    target.on("error", () => undefined);
    // Nagle's algorithm would add a delay of its own to small HTTP messages, on top of the injected one.
    client.setNoDelay(true);
    target.setNoDelay(true);
    const link = new Link(client, target);
    this.links.add(link);
    this.wire(link);
  }

  private wire(link: Link): void {
    const { client, target } = link;
    client.on("data", (chunk: Buffer) => {
      if (this.current.kind === "reset") {
        this.resetLink(link);
        return;
      }
      link.toTarget.push(chunk, delayMsOf(this.current));
    });
    client.on("end", () => {
      link.toTarget.push(null, delayMsOf(this.current));
    });
    target.on("data", (chunk: Buffer) => {
      if (this.current.kind === "drop-reply") {
        this.dropReply(link);
        return;
      }
      link.toClient.push(chunk, delayMsOf(this.current));
    });
    target.on("end", () => {
      link.toClient.push(null, delayMsOf(this.current));
    });
    // A failed side takes the other down with it, like a broken network path; a clean close of
    // one side waits for the other, so delayed bytes and the final FIN still arrive.
    const onClose = (hadError: boolean) => {
      if (hadError || (client.destroyed && target.destroyed)) this.closeLink(link);
    };
    client.on("close", onClose);
    target.on("close", onClose);
  }

  private closeLink(link: Link): void {
    link.destroy();
    this.links.delete(link);
  }

  private resetLink(link: Link): void {
    this.counts.resets += 1;
    resetSocket(link.client);
    this.closeLink(link);
  }

  private dropReply(link: Link): void {
    const mode = this.current;
    assert(mode.kind === "drop-reply", "a reply is dropped only in drop-reply mode");
    this.counts.droppedReplies += 1;
    this.closeLink(link);
    if (mode.count === undefined) return;
    // Connections still open keep going: the budget is spent, so their replies pass again.
    this.current =
      mode.count > 1
        ? Object.freeze({ kind: "drop-reply", count: mode.count - 1 })
        : Object.freeze({ kind: "pass" });
  }
}
