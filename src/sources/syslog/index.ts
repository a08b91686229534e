import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { parseListenAddress } from '../../config/common.js';
import { createSquidDecoder } from '../../decode/squid/index.js';
import type { LineDecoder } from '../../decode/types.js';
import { DecodeError, EgressdError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { counter, gauge, sourceMetrics, type SourceMetrics } from '../../telemetry/metrics.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import type { Source, SourceDeps } from '../types.js';
import type { SyslogSourceConfig } from './config.js';
import { SyslogFramer, syslogMessageText, type FrameDrop } from './framing.js';

export { SyslogFramer, syslogMessageText } from './framing.js';

/** Why a message was dropped before decoding. */
export type SyslogDrop = FrameDrop | 'queue_full' | 'max_connections';

export interface SyslogStats {
  /** Bytes read from the sockets. */
  bytesRead: number;
  received: number;
  records: number;
  /** Dropped before decoding, by reason. */
  dropped: Record<string, number>;
  /** Rejected by the decoder, by reason. */
  decodeErrors: Record<string, number>;
  queued: number;
  queuedBytes: number;
  peakQueued: number;
  connections: number;
}

export function createSyslogSource(config: SyslogSourceConfig, deps: SourceDeps): Source & SyslogSource {
  return new SyslogSource(config, deps);
}

/**
 * Receives syslog over UDP and TCP, strips the header and hands the message text to the
 * format's line decoder. Bounded: message size, connections and a queue (messages and bytes);
 * when the queue is full UDP drops (counted) and TCP stops reading until it drains.
 */
export class SyslogSource implements Source {
  readonly name: string;
  private readonly id: string;
  private readonly decoder: LineDecoder;
  private readonly metrics: SourceMetrics;
  private readonly dropCounter;
  private readonly queueGauge;
  private readonly connectionGauge;
  private readonly log: RateLimitedLog;

  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundUdp: { host: string; port: number } | undefined;
  private boundTcp: { host: string; port: number } | undefined;

  // Messages waiting for the pump: an array with a moving head (no Array.shift per message).
  private queue: Buffer[] = [];
  private head = 0;
  private count = 0;
  private bytes = 0;
  private pumping = false;
  private pumpScheduled = false;
  private pausedTcp = false;
  private stopping = false;
  private failed = false;

  private readonly counts: SyslogStats = {
    bytesRead: 0,
    received: 0,
    records: 0,
    dropped: {},
    decodeErrors: {},
    queued: 0,
    queuedBytes: 0,
    peakQueued: 0,
    connections: 0,
  };

  constructor(
    private readonly config: SyslogSourceConfig,
    private readonly deps: SourceDeps,
  ) {
    if (!config.udp && !config.tcp) {
      throw new EgressdError('CONFIG_INVALID', 'syslog source: set `udp`, `tcp` or both (e.g. udp: 0.0.0.0:514)');
    }
    this.id = config.id ?? `syslog:${config.udp ?? config.tcp}`;
    this.name = `source:${this.id}`;
    this.decoder = createSquidDecoder(this.id, config.squid);
    this.metrics = sourceMetrics(deps.registry);
    this.dropCounter = counter(deps.registry, 'syslog_dropped_total', 'Syslog messages dropped before decoding, by reason', [
      'id',
      'reason',
    ]);
    this.queueGauge = gauge(deps.registry, 'syslog_queue_messages', 'Syslog messages waiting to be decoded', ['id']);
    this.connectionGauge = gauge(deps.registry, 'syslog_connections', 'Open syslog TCP connections', ['id']);
    this.log = new RateLimitedLog(deps.logger.child({ component: this.name }));
  }

  /** Addresses actually bound (useful with port 0). */
  addresses(): { udp?: { host: string; port: number }; tcp?: { host: string; port: number } } {
    return { ...(this.boundUdp ? { udp: this.boundUdp } : {}), ...(this.boundTcp ? { tcp: this.boundTcp } : {}) };
  }

  stats(): SyslogStats {
    return {
      ...this.counts,
      dropped: { ...this.counts.dropped },
      decodeErrors: { ...this.counts.decodeErrors },
      queued: this.count,
      queuedBytes: this.bytes,
      connections: this.sockets.size,
    };
  }

  async start(): Promise<void> {
    if (this.config.udp) await this.startUdp(this.config.udp);
    if (this.config.tcp) await this.startTcp(this.config.tcp);
  }

  private startUdp(address: string): Promise<void> {
    const { host, port } = parseListenAddress(address)!;
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.udp = socket;
    socket.on('message', (msg) => {
      this.counts.bytesRead += msg.length;
      this.metrics.bytes.inc({ source: 'syslog', id: this.id }, msg.length);
      if (msg.length > this.config.max_message_size) {
        this.counts.received++;
        return this.drop('too_large');
      }
      // One syslog message per datagram; raw log lines (Squid's udp:// log module) may pack
      // several, one per line.
      if (msg[0] !== 0x3c /* < */) {
        let start = 0;
        while (start < msg.length) {
          let nl = msg.indexOf(0x0a, start);
          if (nl < 0) nl = msg.length;
          let end = nl;
          if (end > start && msg[end - 1] === 0x0d) end--;
          if (end > start) this.udpMessage(msg.subarray(start, end));
          start = nl + 1;
        }
        return;
      }
      let end = msg.length;
      while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0)) end--;
      this.udpMessage(end === msg.length ? msg : msg.subarray(0, end));
    });
    socket.on('error', (err) => this.log.warn('udp_error', { err }, 'syslog UDP socket error'));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        const a = socket.address();
        this.boundUdp = { host: a.address, port: a.port };
        resolve();
      });
    });
  }

  private startTcp(address: string): Promise<void> {
    const { host, port } = parseListenAddress(address)!;
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = this.config.max_connections;
    server.on('drop', () => this.drop('max_connections'));
    server.on('error', (err) => this.log.warn('tcp_error', { err }, 'syslog TCP listener error'));
    this.tcp = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address();
        if (a && typeof a === 'object') this.boundTcp = { host: a.address, port: a.port };
        resolve();
      });
    });
  }

  private udpMessage(message: Buffer): void {
    this.counts.received++;
    // UDP cannot be slowed down: a full queue drops, counted.
    if (this.isFull()) return this.drop('queue_full');
    this.enqueue(message);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.connectionGauge.set({ id: this.id }, this.sockets.size);
    if (this.pausedTcp) socket.pause();
    const framer = new SyslogFramer(
      this.config.max_message_size,
      (message) => {
        this.counts.received++;
        // The framer's view may point into a chunk; copy so the queue owns its bytes. TCP is
        // never dropped: reading pauses at the bound, so the queue exceeds it by at most the
        // rest of the chunk in hand per connection.
        this.enqueue(Buffer.from(message));
      },
      (reason) => this.drop(reason),
    );
    socket.on('data', (chunk: Buffer) => {
      this.counts.bytesRead += chunk.length;
      this.metrics.bytes.inc({ source: 'syslog', id: this.id }, chunk.length);
      framer.push(chunk);
    });
    socket.on('end', () => framer.end());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.connectionGauge.set({ id: this.id }, this.sockets.size);
    });
  }

  private drop(reason: SyslogDrop): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1;
    this.dropCounter.inc({ id: this.id, reason });
    this.metrics.errors.inc({ source: 'syslog', id: this.id, reason });
  }

  private isFull(): boolean {
    return this.count >= this.config.queue_limit || this.bytes >= this.config.queue_bytes;
  }

  private enqueue(message: Buffer): void {
    this.queue.push(message);
    this.count++;
    this.bytes += message.length;
    if (this.count > this.counts.peakQueued) this.counts.peakQueued = this.count;
    if (this.isFull()) this.pauseTcp();
    this.schedulePump();
  }

  private dequeue(): Buffer {
    const message = this.queue[this.head]!;
    this.head++;
    this.count--;
    this.bytes -= message.length;
    if (this.count === 0) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  private pauseTcp(): void {
    if (this.pausedTcp) return;
    this.pausedTcp = true;
    for (const s of this.sockets) s.pause();
  }

  private resumeTcpIfDrained(): void {
    if (!this.pausedTcp) return;
    if (this.count > this.config.queue_limit / 2 || this.bytes > this.config.queue_bytes / 2) return;
    this.pausedTcp = false;
    for (const s of this.sockets) s.resume();
  }

  private schedulePump(): void {
    if (this.pumping || this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Let messages that arrived in the same turn join one batch.
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    const batchSize = this.config.batch_size;
    const labels = { source: 'syslog', id: this.id };
    try {
      while (this.count > 0) {
        const batch: FlowRecord[] = [];
        while (this.count > 0 && batch.length < batchSize) {
          this.decode(this.dequeue(), batch);
        }
        this.queueGauge.set({ id: this.id }, this.count);
        if (batch.length === 0) continue;
        this.counts.records += batch.length;
        this.metrics.records.inc(labels, batch.length);
        this.metrics.lag.set(labels, Math.max(0, (Date.now() - batch[batch.length - 1]!.tsEnd) / 1000));
        // Awaiting the sink is the backpressure: meanwhile messages queue (and TCP pauses).
        await this.deps.out.push(batch);
        this.resumeTcpIfDrained();
      }
    } catch (err) {
      // The sink failed for good: the supervisor stops the daemon; stop pumping into it.
      this.failed = true;
      this.deps.onFatal(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.pumping = false;
      this.resumeTcpIfDrained();
      if (this.count > 0 && !this.stopping && !this.failed) this.schedulePump();
    }
  }

  private decode(message: Buffer, batch: FlowRecord[]): void {
    const text = syslogMessageText(message.toString('utf8'));
    try {
      this.decoder.decodeLine(text, batch);
    } catch (err) {
      const reason = err instanceof DecodeError ? err.reason : 'decoder_bug';
      if (!(err instanceof DecodeError)) this.log.warn('decoder_bug', { err }, 'squid decoder threw an unexpected error');
      this.counts.decodeErrors[reason] = (this.counts.decodeErrors[reason] ?? 0) + 1;
      this.metrics.errors.inc({ source: 'syslog', id: this.id, reason });
    }
  }

  /** Close the listeners, decode and push what is queued, then return. */
  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcp) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    if (this.count > 0 && !this.failed) this.schedulePump();
    while ((this.pumping || this.pumpScheduled || this.count > 0) && !this.failed) await new Promise((r) => setTimeout(r, 5));
    this.stopping = true;
  }
}
