import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import { parseListenAddress } from '../../config/common.js';
import { NetflowDecoder, type NetflowDecoderOptions } from '../../decode/netflow/index.js';
import { EgressdError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { RateLimitedLog, type Logger } from '../../telemetry/logger.js';
import { sourceMetrics, type SourceMetrics } from '../../telemetry/metrics.js';
import type { ReplayContext, Source, SourceDeps } from '../types.js';
import type { NetflowSourceConfig } from './config.js';
import { StatsSync, kernelDrops, netflowMetrics, type NetflowMetrics, type Syncer } from './metrics.js';
import { udpDatagrams } from './pcap-frames.js';

export { netflowSourceSchema, type NetflowSourceConfig } from './config.js';

const REPLAY_BATCH = 1024;

export function decoderOptions(config: NetflowSourceConfig): NetflowDecoderOptions {
  return {
    maxTemplates: config.max_templates,
    templateTimeoutMs: config.template_timeout,
    maxExporters: config.max_exporters,
    waitingTimeoutMs: config.waiting_timeout,
    maxWaitingSets: config.max_waiting_sets,
    maxWaitingBytes: config.max_waiting_bytes,
  };
}

/** `::ffff:10.0.0.1` from a dual-stack socket is the IPv4 exporter 10.0.0.1. */
export function exporterAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Decode a pcap/pcapng of exported NetFlow/IPFIX UDP datagrams (testing without a socket).
 * The exporter is each datagram's source address; time is the capture time, so template
 * expiry is deterministic. Every UDP datagram is offered to the decoder: anything that is not
 * flow export counts as `unknown_version`.
 */
export async function replayNetflowPcap(
  input: Readable,
  ctx: ReplayContext,
  config: NetflowSourceConfig,
  registry?: Registry,
): Promise<void> {
  const decoder = new NetflowDecoder(decoderOptions(config));
  const labels = { source: 'netflow', id: ctx.sourceId };
  const sync = new StatsSync(decoder, ctx.metrics, labels, registry ? netflowMetrics(registry) : undefined);
  let batch: FlowRecord[] = [];
  let bytes = 0;
  const skipped = (reason: string) => ctx.metrics.errors.inc({ ...labels, reason });
  try {
    for await (const datagram of udpDatagrams(input, skipped)) {
      if (ctx.signal?.aborted) break;
      bytes += datagram.payload.length;
      decoder.decode(datagram.payload, { exporter: datagram.src, receivedAt: datagram.ts }, batch);
      if (batch.length >= REPLAY_BATCH) {
        const full = batch;
        batch = [];
        sync.sync(bytes);
        bytes = 0;
        await ctx.out.push(full);
      }
    }
  } finally {
    decoder.finish();
    sync.sync(bytes);
  }
  if (batch.length > 0) await ctx.out.push(batch);
}

export function createNetflowSource(config: NetflowSourceConfig, deps: SourceDeps): Source {
  return new NetflowSource(config, deps);
}

interface Listener {
  listen: string;
  port: number;
  socket: Socket;
}

/** UDP listeners feeding one decoder (templates are per exporter, whichever socket they reach). */
class NetflowSource implements Source {
  readonly name = 'netflow';
  private readonly decoder: NetflowDecoder;
  private readonly logger: Logger;
  private readonly warn: RateLimitedLog;
  private metrics?: NetflowMetrics;
  private sync?: StatsSync;
  private lag?: SourceMetrics['lag'];
  private syncer?: Syncer;
  private listeners: Listener[] = [];
  private batch: FlowRecord[] = [];
  private readonly queue: FlowRecord[][] = [];
  private draining?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private bytesSinceSync = 0;
  private stopped = false;

  constructor(
    private readonly config: NetflowSourceConfig,
    private readonly deps: SourceDeps,
  ) {
    this.decoder = new NetflowDecoder(decoderOptions(config));
    this.logger = deps.logger.child({ component: 'source.netflow', id: config.id });
    this.warn = new RateLimitedLog(this.logger);
  }

  async start(): Promise<void> {
    const metrics = netflowMetrics(this.deps.registry);
    this.metrics = metrics;
    const shared = sourceMetrics(this.deps.registry);
    this.lag = shared.lag;
    this.sync = new StatsSync(this.decoder, shared, { source: 'netflow', id: this.config.id }, metrics);
    this.syncer = () => this.collect();
    metrics.syncers.add(this.syncer);
    try {
      for (const listen of this.config.listen) this.listeners.push(await this.bind(listen));
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.timer = setInterval(() => this.tick(), this.config.flush_interval);
    this.timer.unref();
    this.logger.info(
      { listen: this.listeners.map((l) => `${l.listen} (rcvbuf ${l.socket.getRecvBufferSize()})`) },
      'netflow collector listening',
    );
  }

  /** Bound ports, in `listen` order (port 0 in the config asks the kernel for one). */
  get ports(): number[] {
    return this.listeners.map((l) => l.port);
  }

  private bind(listen: string): Promise<Listener> {
    const parsed = parseListenAddress(listen);
    if (!parsed) return Promise.reject(new EgressdError('CONFIG_INVALID', `netflow: bad listen address ${listen}`));
    const socket = createSocket({ type: parsed.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: this.config.receive_buffer });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(new EgressdError('IO', `netflow: cannot listen on ${listen}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.bind(parsed.port, parsed.host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.warn.warn(`socket:${listen}`, { err }, 'netflow socket error'));
        socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
        resolve({ listen, port: socket.address().port, socket });
      });
    });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.bytesSinceSync += msg.length;
    this.decoder.decode(msg, { exporter: exporterAddress(rinfo.address), receivedAt: Date.now() }, this.batch);
    if (this.batch.length >= this.config.batch_size) this.flush();
  }

  private tick(): void {
    this.decoder.sweep(Date.now());
    this.flush();
    this.syncCounters();
  }

  private syncCounters(): void {
    this.sync?.sync(this.bytesSinceSync);
    this.bytesSinceSync = 0;
  }

  private collect(): { templates: number; waiting: number; exporters: number } {
    this.syncCounters();
    const m = this.metrics;
    if (m) {
      for (const e of this.decoder.exporterStates()) m.exporterLastSeen.set({ exporter: e.address }, e.lastSeen / 1000);
      for (const l of this.listeners) {
        const drops = kernelDrops(l.port);
        if (drops !== undefined) m.socketDrops.set({ listen: l.listen }, drops);
        try {
          m.receiveBuffer.set({ listen: l.listen }, l.socket.getRecvBufferSize());
        } catch {
          // socket already closed
        }
      }
    }
    return { templates: this.decoder.templates.size, waiting: this.decoder.waitingSets, exporters: this.decoder.exporterCount };
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    let newest = 0;
    for (const r of batch) if (r.tsEnd > newest) newest = r.tsEnd;
    this.lag?.set({ source: 'netflow', id: this.config.id }, Math.max(0, (Date.now() - newest) / 1000));
    if (this.queue.length >= this.config.max_queued_batches) {
      // UDP cannot be paused: past the queue bound the newest records are dropped and counted.
      this.metrics?.droppedRecords.inc({ reason: 'backpressure' }, batch.length);
      this.warn.warn('backpressure', { records: batch.length }, 'netflow: pipeline too slow, records dropped');
      return;
    }
    this.queue.push(batch);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    for (let batch = this.queue.shift(); batch; batch = this.queue.shift()) {
      try {
        await this.deps.out.push(batch);
      } catch (err) {
        this.metrics?.droppedRecords.inc({ reason: 'pipeline_error' }, batch.length);
        this.warn.warn('push', { err }, 'netflow: pipeline rejected a batch');
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
    this.flush();
    while (this.draining) await this.draining;
    this.syncCounters();
    if (this.syncer) this.metrics?.syncers.delete(this.syncer);
  }
}
