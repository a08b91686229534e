// The simulated company: its address plan, the outside services it uses, and the sources it has
// approved. test/eval/rules/*.yaml describe the same world for the engine; world.test.ts checks
// that the two agree.

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** A Sunday, so a three-day corpus holds one quiet weekend day and two working days. */
export const DEFAULT_START = Date.UTC(2026, 5, 14);

export interface Service {
  name: string;
  ips: string[];
  port: number;
  /** Name of the approved-sources entry covering it, if any. */
  approved?: string;
}

export const SERVICES = {
  conferencing: { name: 'media.meet.conference.example', ips: range('198.18.32', 10, 40), port: 8801, approved: 'conferencing' },
  osUpdates: { name: 'updates.osvendor.example', ips: range('198.18.40', 10, 30), port: 443, approved: 'os-updates' },
  distroMirror: { name: 'mirror.distro.example', ips: range('198.18.41', 10, 14), port: 443, approved: 'os-updates' },
  backup: { name: 'backup.storage.example', ips: range('198.18.48', 10, 60), port: 443, approved: 'backup-bucket' },
  registry: { name: 'registry.containers.example', ips: range('198.18.56', 10, 40), port: 443, approved: 'container-registry' },
  push: { name: 'push.notify.example', ips: range('198.18.60', 10, 14), port: 443 },
  speedtest: { name: 'speedtest.example', ips: ['198.18.64.10'], port: 5201 },
  vendorDownloads: { name: 'downloads.vendor.example', ips: ['198.18.90.10', '198.18.90.11'], port: 443 },
  trackerHttp: { name: 'tracker.opentrack.example', ips: ['198.18.70.10'], port: 6969 },
  trackerAlt: { name: 'tracker.publicbt.example', ips: ['198.18.70.20'], port: 80 },
  torrentIndex: { name: 'torrents.index.example', ips: ['198.18.71.10'], port: 443 },
  bigFiles: { name: 'media.bigfiles.example', ips: ['198.18.80.10', '198.18.80.11'], port: 443 },
  dumpSite: { name: 'files.dumpsite.example', ips: ['198.18.80.20'], port: 80 },
  videoHoard: { name: 'cdn.videohoard.example', ips: ['198.18.80.30', '198.18.80.31'], port: 443 },
  datasetMirror: { name: 'datasets.openmirror.example', ips: ['198.18.81.10', '198.18.81.11'], port: 443 },
  catalog: { name: 'shop.catalog.example', ips: ['198.18.82.10'], port: 443 },
  forum: { name: 'forum.bigboard.example', ips: ['198.18.82.20'], port: 443 },
} satisfies Record<string, Service>;

/** Sites people browse: names and CDN-hosted addresses (Zipf popularity by index). */
export const BROWSING_SITE_COUNT = 600;
export function browsingSite(i: number): { name: string; ip: string } {
  return { name: `www.site${i}.example`, ip: `198.18.${i % 16}.${10 + ((i * 37) % 240)}` };
}

/** Shared CDN edges that serve static assets for many sites. */
export const CDN_EDGES = Array.from({ length: 24 }, (_, i) => ({ name: `static.cdn${i % 6}.example`, ip: `198.18.${16 + (i % 8)}.${20 + i}` }));

/** The long tail a crawler walks: thousands of small sites, each its own address. */
export const CRAWL_SITE_COUNT = 5000;
export function crawlSite(i: number): { name: string; ip: string } {
  return { name: `blog${i}.smallsites.example`, ip: `198.19.${(i >> 8) & 255}.${i & 255}` };
}

/** An address in the big pool of consumer addresses BitTorrent peers and DO peers come from. */
export function consumerAddress(n: number): string {
  // 100.64.0.0/10: never inside the company's ranges.
  const v = n % (1 << 22);
  return `${100}.${64 + (v >> 16)}.${(v >> 8) & 255}.${v & 255 || 1}`;
}

export const INTERNAL_RANGES = {
  workstations: '10.20.0.0/16',
  servers: '10.30.0.0/24',
  ciRunners: '10.40.0.0/24',
  labs: '10.50.0.0/24',
};

function range(prefix: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${prefix}.${i}`);
  return out;
}

/** Known BitTorrent ports the naive baseline watches. */
export const NAIVE_BT_PORTS = new Set([6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889, 6969, 51413]);
