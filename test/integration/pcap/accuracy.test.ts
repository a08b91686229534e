// Golden and accuracy tests of the packet source: public captures (nDPI, Arkime,
// suricata-verify, Zeek, loopback) and our own, compared with nDPI (stored `.out` results and a
// live ndpiReader run) and with the expectations committed under testdata/expected/.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, requireTool, sharedFixture } from '../../support/env.js';
import { confusion, egressdFlows, parseNdpiFlows, replayFile, runNdpiReader, type Confusion, type NdpiFlow } from './ndpi.js';

const TESTDATA = join(REPO_ROOT, 'src', 'decode', 'packet', 'testdata');
const EXPECTED = join(TESTDATA, 'expected');
const UPDATE = process.env.EGRESSD_UPDATE_EXPECTED === '1';

interface Capture {
  /** Path under ../shared/fixtures, or under testdata/ for our own. */
  rel: string;
  own?: boolean;
  /** No BitTorrent in it: nothing may be labelled BitTorrent. */
  negative: boolean;
}

const BT = ['bittorrent.pcap', 'bittorrent_tcp_miss.pcapng', 'bittorrent_utp.pcap', 'bt-dns.pcap', 'bt-http.pcapng', 'bt_search.pcap', 'lru_ipv6_caches.pcapng', 'targusdataspeed_false_positives.pcap', 'tls_torrent.pcapng'];
const NON_BT = ['443-chrome.pcap', 'dns.pcap', 'edonkey.pcap', 'exe_download.pcap', 'google_ssl.pcap', 'http.pcapng', 'netflow-fritz.pcap', 'netflowv9.pcap', 'sites.pcapng', 'syncthing.pcap', 'windowsupdate_over_http.pcap'];

const CAPTURES: Capture[] = [
  ...BT.map((f) => ({ rel: `ndpi/bittorrent/${f}`, negative: false })),
  ...NON_BT.map((f) => ({ rel: `ndpi/non_bittorrent/${f}`, negative: true })),
  { rel: 'arkime/bt-tcp.pcap', negative: false },
  { rel: 'arkime/bt-udp.pcap', negative: false },
  { rel: 'suricata-verify/bittorrent-dht_input.pcap', negative: false },
  { rel: 'zeek/bittorrent_tracker.pcap', negative: false },
  { rel: 'pcap/loopback-http-udp.pcap', negative: true },
  { rel: 'pcap/zeek-http-proxy.pcap', negative: true },
  ...ownCaptures(),
];

function ownCaptures(): Capture[] {
  const index = join(TESTDATA, 'captures.json');
  if (!existsSync(index)) return [];
  const list = JSON.parse(readFileSync(index, 'utf8')) as { file: string; negative: boolean }[];
  return list.map((c) => ({ rel: c.file, own: true, negative: c.negative }));
}

const ndpiReader = requireTool('ndpiReader');
const totals = new Map<string, Confusion>();
const rows: string[] = [];

function addTotals(reference: string, c: Confusion): void {
  const t = totals.get(reference) ?? { bothBt: 0, ndpiBtOnly: 0, egressdBtOnly: 0, neither: 0 };
  t.bothBt += c.bothBt;
  t.ndpiBtOnly += c.ndpiBtOnly;
  t.egressdBtOnly += c.egressdBtOnly;
  t.neither += c.neither;
  totals.set(reference, t);
}

describe('pcap source against nDPI and stored expectations', () => {
  for (const capture of CAPTURES) {
    it(capture.rel, async () => {
      const file = capture.own ? join(TESTDATA, capture.rel) : sharedFixture(capture.rel);
      if (file === undefined) return;
      const { records } = await replayFile(file);
      const flows = egressdFlows(records);

      const references: [string, Map<string, NdpiFlow>][] = [];
      if (existsSync(file + '.out')) references.push(['stored .out', parseNdpiFlows(readFileSync(file + '.out', 'utf8'))]);
      if (ndpiReader) references.push(['ndpiReader', parseNdpiFlows(runNdpiReader(ndpiReader, file))]);

      for (const [name, ndpi] of references) {
        const c = confusion(ndpi, flows);
        addTotals(name, c);
        rows.push(`${name.padEnd(12)} ${capture.rel.padEnd(52)} both=${c.bothBt} ndpiOnly=${c.ndpiBtOnly} egressdOnly=${c.egressdBtOnly} neither=${c.neither}`);
        // Every flow nDPI calls BitTorrent is BitTorrent to egressd.
        const missed = [...ndpi.values()].filter((f) => f.bittorrent && !(flows.get(f.key)?.bittorrent ?? false)).map((f) => f.key);
        expect(missed, `${name}: BitTorrent flows egressd missed`).toEqual([]);
        if (capture.negative) {
          const falsePositives = [...ndpi.values()].filter((f) => !f.bittorrent && (flows.get(f.key)?.bittorrent ?? false)).map((f) => f.key);
          expect(falsePositives, `${name}: flows egressd wrongly calls BitTorrent`).toEqual([]);
        }
      }
      if (capture.negative) expect([...flows.values()].filter((f) => f.bittorrent).map((f) => f.key)).toEqual([]);

      // Golden: the BitTorrent verdicts, how they were reached, and the flow count.
      const golden = {
        records: records.length,
        flows: flows.size,
        bittorrent: [...flows.values()]
          .filter((f) => f.bittorrent)
          .map((f) => ({ key: f.key, via: f.via ?? null, infoHash: f.infoHash ?? null }))
          .sort((a, b) => (a.key < b.key ? -1 : 1)),
        names: [...new Set(records.filter((r) => r.serverName).map((r) => r.serverName!))].sort(),
      };
      const expectedFile = join(EXPECTED, capture.rel.replace(/\//g, '__') + '.json');
      if (UPDATE) writeFileSync(expectedFile, JSON.stringify(golden, null, 1) + '\n');
      expect(existsSync(expectedFile), `stored expectation ${basename(expectedFile)} (run with EGRESSD_UPDATE_EXPECTED=1 and review)`).toBe(true);
      expect(golden).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
    });
  }

  afterAll(() => {
    if (rows.length === 0) return;
    const lines = ['', 'flows per capture (BitTorrent by nDPI vs egressd):', ...rows, '', 'confusion matrix over all captures:'];
    for (const [name, t] of totals) {
      lines.push(`  reference ${name}:`);
      lines.push('                      egressd BT   egressd non-BT');
      lines.push(`    nDPI BT           ${String(t.bothBt).padStart(10)}   ${String(t.ndpiBtOnly).padStart(14)}`);
      lines.push(`    nDPI non-BT       ${String(t.egressdBtOnly).padStart(10)}   ${String(t.neither).padStart(14)}`);
    }
    console.log(lines.join('\n'));
  });
});
