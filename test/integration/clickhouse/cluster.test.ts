import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientRunner, connect, schemaTarget } from '../../../src/sinks/clickhouse/client.js';
import { createClickhouseSink, type ClickhouseSink } from '../../../src/sinks/clickhouse/index.js';
import { applyRetention } from '../../../src/sinks/clickhouse/retention.js';
import { hostTotalsSql, sharedRemoteSql, swarmByInfoHashSql } from '../../../src/sinks/clickhouse/schema.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { requireTool, tempDir } from '../../support/env.js';
import { flowCorpus, incident, incidentCorpus } from './corpus.js';
import { deps, rows, scalar, sinkConfig } from './helpers.js';
import { startClickhouseServer, uniquePort, type ClickhouseServer } from './server.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';

// Cluster mode for real: two clickhouse-server instances (two shards, one replica each, on
// loopback) sharing a ZooKeeper, tables created ON CLUSTER as ReplicatedReplacingMergeTree
// behind Distributed tables. Two gateways, each writing to its own server; the correlation
// SQL sees both.

const installed = requireTool('clickhouse-server') !== undefined && requireTool('java') !== undefined;
let zookeeper: ZooKeeper | undefined;
const servers: ClickhouseServer[] = [];
const state = tempDir('egressd-ch-cluster-');

function clusterXml(zkPort: number, tcpPorts: number[], shard: number): string {
  const shards = tcpPorts
    .map((p) => `<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>${p}</port></replica></shard>`)
    .join('');
  return `
  <zookeeper><node><host>127.0.0.1</host><port>${zkPort}</port></node><session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <remote_servers><gateways>${shards}</gateways></remote_servers>
  <macros><shard>0${shard}</shard><replica>replica${shard}</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`;
}

beforeAll(async () => {
  if (!installed) return;
  zookeeper = await startZooKeeper();
  if (!zookeeper) return;
  const tcpPorts = [await uniquePort(), await uniquePort()];
  for (let i = 0; i < 2; i++) {
    const s = await startClickhouseServer({ tcpPort: tcpPorts[i]!, extraConfig: clusterXml(zookeeper.port, tcpPorts, i + 1) });
    if (s) servers.push(s);
  }
});

afterAll(async () => {
  for (const s of servers) {
    if (!s.running()) console.error(`clickhouse-server on ${s.url} died:\n${s.output()}`);
    await s.stop();
    s.remove();
  }
  await zookeeper?.stop();
  zookeeper?.remove();
  state.remove();
});

describe.skipIf(!installed)('clickhouse cluster mode (2 shards + ZooKeeper)', () => {
  const cluster = { cluster: { name: 'gateways' }, database: 'egressd_cluster' };
  const sinks: ClickhouseSink[] = [];
  const corpora = [incidentCorpus(40, 31, 'gwa'), incidentCorpus(40, 32, 'gwb')];
  const flows = [
    flowCorpus({ hosts: 4, remotes: 10, minutes: 5, records: 2000, batchSize: 200, seed: 41 }),
    flowCorpus({ hosts: 4, remotes: 10, minutes: 5, records: 2000, batchSize: 200, seed: 42 }),
  ];

  it('creates the replicated and distributed tables ON CLUSTER, once', async () => {
    expect(servers).toHaveLength(2);
    for (const [i, server] of servers.entries()) {
      const sink = createClickhouseSink(sinkConfig(server, { ...cluster, gateway: `gw-${'ab'[i]}` }), deps(join(state.path, `gw${i}`)));
      await sink.start();
      sinks.push(sink);
    }
    for (const server of servers) {
      const engines = await rows<{ name: string; engine: string }>(server, "SELECT name, engine FROM system.tables WHERE database = 'egressd_cluster' ORDER BY name");
      const byName = Object.fromEntries(engines.map((e) => [e.name, e.engine]));
      expect(byName.incidents).toBe('Distributed');
      expect(byName.incidents_local).toBe('ReplicatedReplacingMergeTree');
      expect(byName.flows_1m_local).toBe('ReplicatedReplacingMergeTree');
      expect(byName.flows_1m_input_local).toBe('Null');
      expect(byName.flows_1m_mv).toBe('MaterializedView');
      expect(await scalar(server, "SELECT count() FROM system.replicas WHERE database = 'egressd_cluster'")).toBe(6);
    }
    // the second gateway found migration 1 recorded and did not apply it again
    expect(await scalar(servers[0]!, 'SELECT count() FROM egressd_cluster.schema_migrations')).toBe(1);
  });

  it('stores what both gateways send, sharded across servers, with exact totals', async () => {
    for (const [i, sink] of sinks.entries()) {
      for (const batch of flows[i]!.batches) sink.observeRecords(batch);
      await sink.write(corpora[i]!.entries);
      await sink.flush();
      await sink.drained();
    }
    const changes = corpora[0]!.changes + corpora[1]!.changes;
    for (const server of servers) {
      // read through the Distributed table from either server
      expect(await scalar(server, 'SELECT count() FROM egressd_cluster.incident_changes FINAL')).toBe(changes);
      expect(await scalar(server, 'SELECT count() FROM egressd_cluster.incidents FINAL')).toBe(80);
      // each shard holds part of it
      const local = await scalar(server, 'SELECT count() FROM egressd_cluster.incident_changes_local');
      expect(local).toBeGreaterThan(0);
      expect(local).toBeLessThan(changes);
    }
    const target = schemaTarget(sinkConfig(servers[0]!, cluster));
    const totals = await rows<Record<string, string>>(servers[1]!, hostTotalsSql(target, 0, 4_000_000_000));
    const expected = new Map<string, number>();
    for (const f of flows) for (const [host, t] of f.perHost) expected.set(host, (expected.get(host) ?? 0) + t.bytesIn);
    expect(totals).toHaveLength(expected.size);
    for (const t of totals) expect(Number(t.bytes_in)).toBe(expected.get(t.host!));
  });

  it('correlates a swarm across gateways in SQL', async () => {
    const hash = 'ef'.repeat(20);
    await sinks[0]!.write([{ type: 'incident', change: { change: 'opened', incident: incident('cl-a', 1, 'open', ['10.70.0.1'], hash, 1, 1e6) } }]);
    await sinks[1]!.write([{ type: 'incident', change: { change: 'opened', incident: incident('cl-b', 1, 'open', ['10.80.0.1'], hash, 2, 2e6) } }]);
    const target = schemaTarget(sinkConfig(servers[0]!, cluster));
    for (const server of servers) {
      const swarms = await rows<{ info_hash: string; hosts: string[]; gateways: string[] }>(server, swarmByInfoHashSql(target, { windowHours: 24 * 365 }));
      const found = swarms.find((s) => s.info_hash === hash);
      expect(found?.hosts.sort()).toEqual(['10.70.0.1', '10.80.0.1']);
      expect(found?.gateways.sort()).toEqual(['gw-a', 'gw-b']);
      const shared = await rows<{ gateways: string[] }>(server, sharedRemoteSql(target, { windowHours: 24 * 365 }));
      expect(shared.some((s) => s.gateways.length === 2)).toBe(true);
    }
  });

  it('drops expired partitions on every server', async () => {
    const config = sinkConfig(servers[0]!, cluster);
    const runner = new ClientRunner(connect(config), config.database, true);
    try {
      const old = (gw: string) => JSON.stringify({ at: Math.floor(Date.UTC(2025, 0, 2) / 1000), gateway: gw, kind: 'heartbeat', pid: 1, uptime_s: 0, spool_bytes: 0, pending_rows: 0, detail: '', event_key: gw });
      // enough gateways that both shards get an old row
      await runner.insert('heartbeats', Array.from({ length: 20 }, (_, i) => old(`old-${i}`)).join('\n') + '\n');
      const localOld = await Promise.all(servers.map((s) => scalar(s, "SELECT count() FROM egressd_cluster.heartbeats_local WHERE gateway LIKE 'old-%'")));
      expect(localOld.every((n) => n > 0)).toBe(true);
      await applyRetention(runner, schemaTarget(config), { ...config.retention, heartbeats: 30 }, silentLogger(), undefined, Date.UTC(2026, 5, 30));
      for (const server of servers) expect(await scalar(server, "SELECT count() FROM egressd_cluster.heartbeats_local WHERE gateway LIKE 'old-%'")).toBe(0);
    } finally {
      await runner.close();
    }
  });

  it('stops', async () => {
    for (const s of sinks) await s.stop();
  });
});
