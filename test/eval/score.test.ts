import { describe, expect, it } from 'vitest';
import { naiveFlowBaseline, naiveProxyBaseline, urlPort } from './baseline.js';
import { benignHostDays, qualityBar, scoreIncidents, type ScoredIncident } from './score.js';
import type { Conn, GroundTruth, ProxyRequest } from './types.js';

const DAY0 = '2026-06-14T00:00:00.000Z';
const at = (hours: number): string => new Date(Date.parse(DAY0) + hours * 3_600_000).toISOString();

// Two days, six hosts: A and B share a torrent (a swarm) on day 1, C scrapes on day 0, D crawls
// throughout, E and F are benign.
const truth: GroundTruth = {
  seed: 1,
  start: DAY0,
  end: at(48),
  days: 2,
  hosts: ['A', 'B', 'C', 'D', 'E', 'F'].map((ip) => ({ ip, role: 'workstation' as const, user: '-' })),
  benign_hosts: ['E', 'F'],
  labels: [
    { host: 'A', kind: 'bittorrent', technique: 'bt_client', start: at(30), end: at(34), swarm: 's1', detail: {} },
    { host: 'B', kind: 'bittorrent', technique: 'bt_client', start: at(31), end: at(36), swarm: 's1', detail: {} },
    { host: 'C', kind: 'bulk_acquisition', technique: 'scraper', start: at(10), end: at(14), detail: {} },
    { host: 'D', kind: 'bulk_acquisition', technique: 'slow_crawler', start: at(1), end: at(47), detail: {} },
  ],
  swarms: [{ id: 's1', kind: 'bittorrent', hosts: ['A', 'B'], key: 'ab'.repeat(20), start: at(30), end: at(36) }],
  lookalikes: {},
};

const inc = (id: string, kind: string, hosts: string[], from: number, to: number, extra: Partial<ScoredIncident> = {}): ScoredIncident => ({
  id,
  kind,
  hosts,
  first_seen: at(from),
  last_seen: at(to),
  ...extra,
});

describe('scoreIncidents', () => {
  it('counts benign host-days per host and day without a label', () => {
    // E, F: 2 each; A, B: day 0 only; C: day 1 only; D: none.
    expect(benignHostDays(truth)).toBe(4 + 2 + 1);
  });

  it('scores crafted incidents by host, kind and time', () => {
    const incidents = [
      inc('swarm', 'swarm', ['A', 'B'], 31, 35, { detected_at: at(32) }),
      inc('bt-a', 'bittorrent', ['A'], 30, 34, { detected_at: at(30.5) }),
      inc('bulk-c', 'bulk_acquisition', ['C'], 10, 14),
      inc('bt-d', 'bittorrent', ['D'], 20, 21),
      inc('bulk-e', 'bulk_acquisition', ['E'], 5, 6),
      // Right host, but a day before its label: a false incident.
      inc('bt-b-early', 'bittorrent', ['B'], 2, 3),
    ];
    const s = scoreIncidents(incidents, truth);
    expect(s.kinds.bittorrent).toMatchObject({ labelled: 2, detected: 2, wrongKind: 0, recall: 1, incidents: 3, correctIncidents: 1, falseIncidents: 1 });
    expect(s.kinds.bittorrent.precision).toBeCloseTo(1 / 3);
    // A: detected 30 min after its start by bt-a; B: by the swarm incident 1 h after its start.
    expect(s.kinds.bittorrent.latency).toMatchObject({ count: 2, medianMinutes: 30, maxMinutes: 60 });
    expect(s.kinds.bulk_acquisition).toMatchObject({ labelled: 2, detected: 1, wrongKind: 1, recall: 0.5, missed: ['D:slow_crawler'] });
    expect(s.kinds.bulk_acquisition.precision).toBeCloseTo(0.5);
    expect(s.kinds.swarm).toMatchObject({ labelled: 1, detected: 1, recall: 1, incidents: 1, correctIncidents: 1 });
    expect(s.kinds.swarm.latency.medianMinutes).toBe(120);
    expect(s.swarmMemberCoverage).toBe(1);
    expect(s.techniques).toMatchObject({ bt_client: { detected: 2 }, scraper: { detected: 1 }, slow_crawler: { detected: 0 } });
    expect(s.techniques.bt_client!.latency).toMatchObject({ count: 2, medianMinutes: 30, maxMinutes: 60 });
    expect(s.techniques.slow_crawler!.latency.count).toBe(0);
    expect(s.falseIncidents).toBe(2);
    expect(s.falseOnLabelledHosts).toBe(1);
    expect(s.falsePer1000BenignHostDays).toBeCloseTo((2 / 7) * 1000);
    expect(s.benignHostsFlagged).toEqual(['B', 'E']);
    expect(s.verdicts.find((v) => v.id === 'bt-d')?.verdict).toBe('wrong_kind');
    const bar = qualityBar(s);
    expect(bar).toMatchObject({ bittorrentRecall: true, swarmRecall: true, bulkRecall: false, falseRate: false, pass: false });
  });

  it('does not count a swarm incident naming one member, and passes the bar when all is found', () => {
    const partial = scoreIncidents([inc('s', 'swarm', ['A', 'E'], 30, 34)], truth);
    expect(partial.kinds.swarm.detected).toBe(0);
    expect(partial.verdicts[0]?.verdict).toBe('wrong_kind');
    expect(partial.kinds.bittorrent.detected).toBe(1);

    const all = scoreIncidents(
      [inc('s', 'swarm', ['A', 'B'], 30, 36), inc('c', 'bulk_acquisition', ['C'], 11, 12), inc('d', 'bulk_acquisition', ['D'], 3, 40)],
      truth,
    );
    expect(all.falseIncidents).toBe(0);
    expect(qualityBar(all).pass).toBe(true);
  });
});

describe('naive baseline', () => {
  const conn = (over: Partial<Conn>): Conn => ({
    ts: Date.parse(DAY0),
    durationMs: 1000,
    host: '10.20.0.5',
    hostPort: 50_000,
    remote: '198.18.0.1',
    remotePort: 443,
    proto: 'tcp',
    hostOriginated: true,
    bytesOut: 0,
    bytesIn: 0,
    packetsOut: 1,
    packetsIn: 1,
    activity: 'browsing',
    ...over,
  });

  it('flags known ports on either side and hosts over the daily byte threshold', () => {
    const start = Date.parse(DAY0);
    const incidents = naiveFlowBaseline(
      [
        conn({ host: '10.20.0.1', hostPort: 51413, ts: start + 1000 }),
        conn({ host: '10.20.0.2', remotePort: 6969, ts: start + 2000 }),
        conn({ host: '10.20.0.3', remote: '10.20.0.4', remotePort: 6881 }),
        conn({ host: '10.20.0.5', bytesIn: 600, ts: start + 3000 }),
        conn({ host: '10.20.0.5', bytesIn: 600, ts: start + 4000 }),
        conn({ host: '10.20.0.5', bytesIn: 600, ts: start + 86_400_000 }),
      ],
      start,
      1000,
    );
    expect(incidents.filter((i) => i.kind === 'bittorrent').map((i) => i.hosts[0]).sort()).toEqual(['10.20.0.1', '10.20.0.2']);
    const bulk = incidents.filter((i) => i.kind === 'bulk_acquisition');
    expect(bulk).toHaveLength(1);
    expect(bulk[0]?.detected_at).toBe(new Date(start + 4000).toISOString());
  });

  it('reads ports from proxy URLs', () => {
    expect(urlPort('CONNECT', 'tracker.example:6969')).toBe(6969);
    expect(urlPort('GET', 'http://tracker.example:6969/announce?x=1')).toBe(6969);
    expect(urlPort('GET', 'http://a.example/x:80')).toBe(80);
    expect(urlPort('GET', 'https://a.example/')).toBe(443);
    const req: ProxyRequest = {
      ts: Date.parse(DAY0),
      elapsedMs: 10,
      host: '10.20.0.9',
      user: '-',
      method: 'GET',
      url: 'http://t.example:6969/announce?info_hash=x',
      status: 200,
      bytes: 10,
      bytesOut: 10,
      remoteIp: '198.18.70.10',
      contentType: 'text/plain',
      userAgent: 'Transmission/3.00',
      activity: 'bittorrent',
    };
    expect(naiveProxyBaseline([req], Date.parse(DAY0)).map((i) => i.kind)).toEqual(['bittorrent']);
  });
});
