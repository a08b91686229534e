import type { AppEvidence, ObjectFacts } from '../../record.js';

// Facts a proxy log line carries in its URL and headers: BitTorrent evidence (tracker
// announces, magnet links, .torrent downloads, client user agents) and what object was
// fetched. Pure helpers shared by every proxy-ish source (Squid, Zeek http.log, ...).

/** The parts of an absolute URL the facts need; undefined for text that is not one. */
export interface UrlParts {
  /** Lowercase scheme without `://`. */
  scheme: string;
  /** Lowercase host without brackets, port or user info. */
  host: string;
  /** Explicit port, or the scheme's default (0 when unknown). */
  port: number;
  /** Path from the first `/` up to `?` or `#`; `/` when empty. */
  path: string;
  /** Text after `?` up to `#`, without the `?`; '' when none. */
  query: string;
  /** `scheme://host[:port]` as logged but lowercased: the origin for tracker matching. */
  origin: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, ws: 80, wss: 443 };

/** Split `scheme://[user@]host[:port]/path?query#frag`. */
export function parseUrl(url: string): UrlParts | undefined {
  let scheme: string;
  let authorityStart: number;
  // Fast path for the schemes nearly every line has.
  if (url.startsWith('http://')) {
    scheme = 'http';
    authorityStart = 7;
  } else if (url.startsWith('https://')) {
    scheme = 'https';
    authorityStart = 8;
  } else {
    const schemeEnd = url.indexOf('://');
    if (schemeEnd <= 0 || schemeEnd > 16) return undefined;
    scheme = url.slice(0, schemeEnd).toLowerCase();
    if (!/^[a-z][a-z0-9+._-]*$/.test(scheme)) return undefined;
    authorityStart = schemeEnd + 3;
  }
  let authorityEnd = url.length;
  for (let i = authorityStart; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      authorityEnd = i;
      break;
    }
  }
  let host: string;
  let port: number;
  let origin: string | undefined;
  const plain = plainAuthority(url, authorityStart, authorityEnd);
  if (plain !== NOT_PLAIN) {
    // Lowercase `host[:port]` as logged: the origin is a slice of the URL, nothing to rebuild.
    const colon = plain;
    host = url.slice(authorityStart, colon < 0 ? authorityEnd : colon);
    if (host === '') return undefined;
    if (colon < 0) {
      port = DEFAULT_PORTS[scheme] ?? 0;
      if (url.startsWith(scheme)) origin = url.slice(0, authorityEnd);
    } else {
      const explicit = parsePortRange(url, colon + 1, authorityEnd);
      if (explicit < 0) return undefined;
      port = explicit;
      // `:080` is port 80: the origin says `:80`.
      if (url.startsWith(scheme) && (authorityEnd - colon === 2 || url.charCodeAt(colon + 1) !== 48)) origin = url.slice(0, authorityEnd);
    }
    origin ??= `${scheme}://${host}${colon < 0 ? '' : `:${port}`}`;
  } else {
    let authority = url.slice(authorityStart, authorityEnd);
    const at = authority.lastIndexOf('@');
    if (at >= 0) authority = authority.slice(at + 1);
    const hostPort = splitHostPort(authority);
    if (!hostPort || hostPort.host === '') return undefined;
    host = hostPort.host;
    port = hostPort.port ?? DEFAULT_PORTS[scheme] ?? 0;
    const hostText = hostPort.host.includes(':') ? `[${hostPort.host}]` : hostPort.host;
    origin = `${scheme}://${hostText}${hostPort.port !== undefined ? `:${hostPort.port}` : ''}`;
  }
  let path: string;
  let query = '';
  const q = url.indexOf('?', authorityEnd);
  const hash = url.indexOf('#', authorityEnd);
  if (q >= 0 && (hash < 0 || q < hash)) {
    path = url.slice(authorityEnd, q);
    query = url.slice(q + 1, hash < 0 ? url.length : hash);
  } else {
    path = url.slice(authorityEnd, hash < 0 ? url.length : hash);
  }
  if (path === '') path = '/';
  return { scheme, host, port, path, query, origin };
}

const NOT_PLAIN = -2;

/**
 * Where the one `:` of a plain authority is (-1 when none), or NOT_PLAIN when it needs the
 * general split: user info, brackets, several colons, upper case or non-ASCII.
 */
function plainAuthority(url: string, start: number, end: number): number {
  let colon = -1;
  for (let i = start; i < end; i++) {
    const c = url.charCodeAt(i);
    if (c === 58 /* : */) {
      if (colon >= 0) return NOT_PLAIN;
      colon = i;
    } else if (c === 64 /* @ */ || c === 91 /* [ */ || (c >= 65 && c <= 90) || c > 127) return NOT_PLAIN;
  }
  return colon;
}

/** The port in `text[start, end)`, as `parsePort`; -1 when not one. */
function parsePortRange(text: string, start: number, end: number): number {
  if (end === start || end - start > 5) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n <= 65535 ? n : -1;
}

/**
 * `host`, `host:port`, `[v6]:port` or a bare IPv6 address to its parts; host lowercased.
 * A CONNECT request's URL is exactly this form.
 */
export function splitHostPort(text: string): { host: string; port: number | undefined } | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const host = text.slice(1, close).toLowerCase();
    const after = text.slice(close + 1);
    if (after === '') return { host, port: undefined };
    if (!after.startsWith(':')) return undefined;
    const port = parsePort(after.slice(1));
    return port === undefined ? undefined : { host, port };
  }
  const colon = text.indexOf(':');
  if (colon < 0) return { host: text.toLowerCase(), port: undefined };
  if (text.indexOf(':', colon + 1) >= 0) return { host: text.toLowerCase(), port: undefined }; // bare IPv6
  const port = parsePort(text.slice(colon + 1));
  if (port === undefined) return undefined;
  return { host: text.slice(0, colon).toLowerCase(), port };
}

function parsePort(text: string): number | undefined {
  if (text === '' || text.length > 5) return undefined;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n <= 65535 ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Percent-decoding to bytes (info_hash and peer_id are 20 raw bytes, URL-escaped)

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Percent-decode a query value to raw bytes (`+` is a space); undefined on a bad escape. */
export function percentDecodeBytes(text: string): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      out[n++] = hi * 16 + lo;
      i += 2;
    } else if (c === 43 /* + */) out[n++] = 32;
    else if (c > 0xff) return undefined;
    else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Percent-decode to text, leaving malformed escapes as they are. */
export function percentDecodeText(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/** The value of `name` in a query string, still URL-escaped; undefined when absent. */
export function queryParam(query: string, name: string): string | undefined {
  let from = 0;
  while (from <= query.length) {
    const amp = query.indexOf('&', from);
    const end = amp < 0 ? query.length : amp;
    if (query.startsWith(name, from) && query.charCodeAt(from + name.length) === 61 /* = */) {
      return query.slice(from + name.length + 1, end);
    }
    if (amp < 0) break;
    from = amp + 1;
  }
  return undefined;
}

/** Every value of `name` in a query string (a multi-torrent scrape repeats info_hash). */
export function queryParams(query: string, name: string): string[] {
  const out: string[] = [];
  for (const part of query.split('&')) if (part.startsWith(name + '=')) out.push(part.slice(name.length + 1));
  return out;
}

/** A tracker's `info_hash`: 20 URL-escaped bytes (or 40 hex) to 40 lowercase hex; else undefined. */
export function decodeInfoHashParam(value: string): string | undefined {
  // A few clients send the hash as 40 hex characters instead of 20 escaped bytes.
  if (value.length === 40 && /^[0-9a-fA-F]{40}$/.test(value)) return value.toLowerCase();
  const bytes = percentDecodeBytes(value);
  if (!bytes || bytes.length !== 20) return undefined;
  return toHex(bytes);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A magnet `xt=urn:btih:` value (40 hex or 32 base32) to 40 lowercase hex; else undefined. */
export function normalizeBtih(value: string): string | undefined {
  if (value.length === 40 && /^[0-9a-fA-F]{40}$/.test(value)) return value.toLowerCase();
  if (value.length !== 32) return undefined;
  const bytes = new Uint8Array(20);
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < 32; i++) {
    const v = BASE32.indexOf(value.charAt(i).toUpperCase());
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (acc >>> bits) & 0xff;
    }
  }
  return toHex(bytes);
}

/** Peer id bytes as printable text: non-printable bytes become `.`. */
function printablePeerId(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  return s;
}

// ---------------------------------------------------------------------------------------------
// BitTorrent clients by peer id prefix and by user agent

const AZUREUS_STYLE_CLIENTS: Record<string, string> = {
  TR: 'Transmission',
  UT: 'uTorrent',
  UM: 'uTorrent Mac',
  UW: 'uTorrent Web',
  qB: 'qBittorrent',
  DE: 'Deluge',
  LT: 'libtorrent',
  lt: 'rtorrent',
  AZ: 'Azureus',
  BI: 'BiglyBT',
  BT: 'BitTorrent',
  BC: 'BitComet',
  BL: 'BitLord',
  KT: 'KTorrent',
  TL: 'Tribler',
  TX: 'Tixati',
  WW: 'WebTorrent',
  WD: 'WebTorrent Desktop',
  FD: 'Free Download Manager',
  SZ: 'Shareaza',
  XL: 'Xunlei',
  SD: 'Xunlei',
  PI: 'PicoTorrent',
  FW: 'FrostWire',
  HL: 'Halite',
};

/** Client name from a peer id such as `-TR3000-…` or `A2-1-36-0-…` (aria2); undefined when unknown. */
export function clientFromPeerId(peerId: string): string | undefined {
  if (peerId.length >= 8 && peerId.charAt(0) === '-' && peerId.charAt(7) === '-') {
    return AZUREUS_STYLE_CLIENTS[peerId.slice(1, 3)];
  }
  if (peerId.startsWith('A2-')) return 'aria2';
  if (/^M\d+-\d+-\d+--/.test(peerId)) return 'BitTorrent';
  return undefined;
}

/**
 * User agents of BitTorrent clients, after the Emerging Threats P2P user-agent rules and the
 * clients' own defaults. aria2 is left out: it is a plain HTTP downloader as well, so its
 * user agent alone says nothing about BitTorrent.
 */
const CLIENT_USER_AGENTS: { pattern: RegExp; client: string }[] = [
  { pattern: /^(?:u|µ|\u00c2\u00b5|%C2%B5|%B5)Torrent(?:Mac|Web)?\b/i, client: 'uTorrent' },
  { pattern: /^BitTorrent[/ ]/i, client: 'BitTorrent' },
  { pattern: /^Transmission\//i, client: 'Transmission' },
  { pattern: /^Deluge[/ ]/i, client: 'Deluge' },
  { pattern: /^qBittorrent[/ ]/i, client: 'qBittorrent' },
  { pattern: /^(?:Azureus|Vuze)[/ ]/i, client: 'Azureus' },
  { pattern: /^BiglyBT[/ ]/i, client: 'BiglyBT' },
  { pattern: /^libtorrent[/ ]/i, client: 'libtorrent' },
  { pattern: /^rtorrent[/ ]/i, client: 'rtorrent' },
  { pattern: /^KTorrent[/ ]/i, client: 'KTorrent' },
  { pattern: /^BitComet[/ ]/i, client: 'BitComet' },
  { pattern: /^Enhanced-CTorrent/i, client: 'Enhanced CTorrent' },
  { pattern: /^BTSP[/ ]/i, client: 'BTSP' },
  { pattern: /^Opera BitTorrent/i, client: 'Opera' },
  { pattern: /^Tixati[/ ]/i, client: 'Tixati' },
  { pattern: /^Tribler[/ ]/i, client: 'Tribler' },
  { pattern: /^WebTorrent[/ ]/i, client: 'WebTorrent' },
  { pattern: /^BitLord[/ ]/i, client: 'BitLord' },
  { pattern: /^Shareaza[/ ]/i, client: 'Shareaza' },
  { pattern: /^FDM[/ ]/i, client: 'Free Download Manager' },
  { pattern: /^Blizzard Downloader/i, client: 'Blizzard Downloader' },
];

/** A quick first-character screen so common browser user agents cost one lookup. */
const CLIENT_FIRST_CHARS = new Set('uUµÂ%bBtTdDqQaAvVlLrRkKeEoOwWsSfF'.split(''));

/** The BitTorrent client named by a user agent, or undefined. */
export function bittorrentClientFromUserAgent(userAgent: string): string | undefined {
  if (userAgent.length < 4 || !CLIENT_FIRST_CHARS.has(userAgent.charAt(0))) return undefined;
  if (userAgent.startsWith('Mozilla/')) return undefined;
  for (const { pattern, client } of CLIENT_USER_AGENTS) if (pattern.test(userAgent)) return client;
  return undefined;
}

/** Client name from any user agent that names one, aria2 included (for tracker evidence). */
function anyClientFromUserAgent(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  if (/^aria2\//i.test(userAgent)) return 'aria2';
  return bittorrentClientFromUserAgent(userAgent);
}

// ---------------------------------------------------------------------------------------------
// BitTorrent evidence from one request

const BTIH = /(?:xt=|xt%3D)urn(?::|%3A)btih(?::|%3A)([0-9A-Za-z]{32,40})/i;

/**
 * BitTorrent evidence in one proxy request, strongest first: a tracker announce or scrape,
 * a magnet link, a `.torrent` download, a client's user agent. Undefined when none.
 */
export function bittorrentEvidence(
  url: string,
  parts: UrlParts | undefined,
  contentType: string | undefined,
  userAgent: string | undefined,
): AppEvidence | undefined {
  if (parts) {
    const tracker = trackerEvidence(parts, userAgent);
    if (tracker) return tracker;
  }
  if (url.length > 40) {
    const magnet = magnetEvidence(url);
    if (magnet) return magnet;
  }
  if (parts && isTorrentFile(parts.path, contentType)) {
    const app: AppEvidence = { name: 'bittorrent', via: 'torrent_file' };
    const client = anyClientFromUserAgent(userAgent);
    if (client) app.client = client;
    return app;
  }
  if (userAgent) {
    const client = bittorrentClientFromUserAgent(userAgent);
    if (client) return { name: 'bittorrent', via: 'user_agent', client };
  }
  return undefined;
}

/** `/announce?info_hash=…` or `/scrape?info_hash=…` (also `announce.php`, passkey paths). */
export function trackerEvidence(parts: UrlParts, userAgent: string | undefined): AppEvidence | undefined {
  if (parts.query === '' || !parts.query.includes('info_hash=')) return undefined;
  const lastSlash = parts.path.lastIndexOf('/');
  const leaf = parts.path.slice(lastSlash + 1).toLowerCase();
  if (!leaf.startsWith('announce') && !leaf.startsWith('scrape')) return undefined;
  const hashes: string[] = [];
  for (const raw of queryParams(parts.query, 'info_hash')) {
    const h = decodeInfoHashParam(raw);
    if (h && !hashes.includes(h)) hashes.push(h);
  }
  const app: AppEvidence = { name: 'bittorrent', via: 'tracker', tracker: parts.origin + parts.path };
  if (hashes.length > 0) app.infoHash = hashes[0]!;
  if (hashes.length > 1) app.infoHashes = hashes;
  const rawPeerId = queryParam(parts.query, 'peer_id');
  const peerBytes = rawPeerId === undefined ? undefined : percentDecodeBytes(rawPeerId);
  let client: string | undefined;
  if (peerBytes && peerBytes.length === 20) {
    app.peerId = printablePeerId(peerBytes);
    client = clientFromPeerId(app.peerId);
  }
  client ??= anyClientFromUserAgent(userAgent);
  if (client) app.client = client;
  return app;
}

/** A magnet link anywhere in the URL (often a redirect or a query parameter). */
export function magnetEvidence(url: string): AppEvidence | undefined {
  if (!/btih/i.test(url)) return undefined;
  const m = BTIH.exec(url);
  if (!m) return undefined;
  const raw = m[1]!;
  // The hash ends at the first non-alphanumeric character; take 40 hex or 32 base32.
  const hash = normalizeBtih(raw.length >= 40 && /^[0-9a-fA-F]{40}/.test(raw) ? raw.slice(0, 40) : raw.slice(0, 32));
  if (!hash) return undefined;
  return { name: 'bittorrent', via: 'magnet', infoHash: hash };
}

function isTorrentFile(path: string, contentType: string | undefined): boolean {
  const dot = path.length - 8;
  if (dot > 0 && path.charCodeAt(dot) === 46 && path.slice(dot + 1).toLowerCase() === 'torrent') return true;
  return contentType !== undefined && contentType.length >= 24 && /^application\/x-bittorrent/i.test(contentType);
}

// ---------------------------------------------------------------------------------------------
// Object facts

type ObjectKind = 'media' | 'archive' | 'disk_image' | 'document' | 'torrent' | 'executable' | 'other';

const KIND_BY_EXTENSION = new Map<string, ObjectKind>();
function kinds(kind: ObjectKind, extensions: string): void {
  for (const e of extensions.split(' ')) KIND_BY_EXTENSION.set(e, kind);
}
kinds(
  'media',
  'mp4 m4v mkv avi mov wmv flv webm mpg mpeg m2ts mts vob 3gp ogv ts mp3 flac wav aac ogg oga opus m4a wma aiff alac ' +
    'jpg jpeg png gif bmp tif tiff webp heic heif avif raw cr2 nef dng psd',
);
// Bulk data containers count as archives: what a crawler or a data-set pull fetches.
kinds('archive', 'zip rar 7z tar gz tgz bz2 tbz tbz2 xz txz zst zstd lz lzma lz4 cab arj z warc parquet arrow tfrecord');
kinds('disk_image', 'iso img dmg vhd vhdx vmdk qcow2 vdi ova wim squashfs');
kinds('document', 'pdf doc docx xls xlsx ppt pptx odt ods odp rtf epub mobi azw azw3 djvu cbz cbr fb2');
kinds('torrent', 'torrent');
kinds('executable', 'exe msi msix msp dll apk xapk deb rpm appimage jar pkg bin run snap flatpak');

const KIND_BY_CONTENT_TYPE: [string, ObjectKind][] = [
  ['video/', 'media'],
  ['audio/', 'media'],
  ['image/', 'media'],
  ['application/x-bittorrent', 'torrent'],
  ['application/zip', 'archive'],
  ['application/x-zip', 'archive'],
  ['application/gzip', 'archive'],
  ['application/x-gzip', 'archive'],
  ['application/x-tar', 'archive'],
  ['application/x-7z', 'archive'],
  ['application/x-rar', 'archive'],
  ['application/vnd.rar', 'archive'],
  ['application/x-bzip', 'archive'],
  ['application/x-xz', 'archive'],
  ['application/zstd', 'archive'],
  ['application/x-iso9660', 'disk_image'],
  ['application/x-cd-image', 'disk_image'],
  ['application/x-apple-diskimage', 'disk_image'],
  ['application/x-raw-disk-image', 'disk_image'],
  ['application/pdf', 'document'],
  ['application/msword', 'document'],
  ['application/epub', 'document'],
  ['application/vnd.openxmlformats-officedocument', 'document'],
  ['application/vnd.ms-', 'document'],
  ['application/vnd.oasis.opendocument', 'document'],
  ['application/x-msdownload', 'executable'],
  ['application/x-msdos-program', 'executable'],
  ['application/x-msi', 'executable'],
  ['application/x-executable', 'executable'],
  ['application/vnd.microsoft.portable-executable', 'executable'],
  ['application/x-debian-package', 'executable'],
  ['application/vnd.debian.binary-package', 'executable'],
  ['application/x-rpm', 'executable'],
  ['application/vnd.android.package-archive', 'executable'],
];

/** Kind of object from the path's extension, then the content type; `other` when neither says. */
export function objectKind(path: string, contentType: string | undefined): ObjectKind {
  const ext = extensionOf(path);
  if (ext) {
    const kind = KIND_BY_EXTENSION.get(ext);
    if (kind) return kind;
  }
  if (contentType !== undefined && contentType.length > 5) return contentTypeKind(contentType);
  return 'other';
}

/** A log holds few distinct content types: their kinds are remembered, up to a bound. */
const KIND_CACHE_LIMIT = 512;
const kindByContentType = new Map<string, ObjectKind>();

function contentTypeKind(contentType: string): ObjectKind {
  let kind = kindByContentType.get(contentType);
  if (kind !== undefined) return kind;
  kind = 'other';
  const ct = contentType.toLowerCase();
  // Most responses are text/*: one check, no table walk.
  if (!ct.startsWith('text/')) {
    for (const [prefix, k] of KIND_BY_CONTENT_TYPE) {
      if (ct.startsWith(prefix)) {
        kind = k;
        break;
      }
    }
  }
  if (kindByContentType.size >= KIND_CACHE_LIMIT) kindByContentType.clear();
  kindByContentType.set(contentType, kind);
  return kind;
}

/** Lowercase extension of the last path segment, without the dot; '' when none. */
function extensionOf(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot <= slash + 1 || path.length - dot > 10) return '';
  return path.slice(dot + 1).toLowerCase();
}

const MAX_SEQUENCE_DIGITS = 15;

/**
 * Object facts for a fetched URL: its kind, a key that is the same whoever fetched it (no
 * query, lowercase host) and, when the name carries a number, the sequence it belongs to.
 */
export function objectFacts(parts: UrlParts, contentType: string | undefined): ObjectFacts {
  const sequence = sequenceIn(parts.origin, parts.scheme.length + 3, parts.path);
  return { kind: objectKind(parts.path, contentType), key: parts.origin + parts.path, sequence };
}

/**
 * `host/path/file-0042.jpg` → stem `host/path/file-#.jpg`, n 42: the last number outside the
 * extension and outside %XX escapes.
 */
export function sequenceOf(host: string, path: string): { stem: string; n: number } | undefined {
  return sequenceIn(host, 0, path);
}

/** `sequenceOf` with the host given as `origin` from `hostStart`: sliced only when a number is found. */
function sequenceIn(origin: string, hostStart: number, path: string): { stem: string; n: number } | undefined {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  let end = (dot > slash + 1 && path.length - dot <= 10 ? dot : path.length) - 1;
  for (;;) {
    while (end >= 0 && !isDigit(path.charCodeAt(end))) end--;
    if (end < 0) return undefined;
    let start = end;
    while (start > 0 && isDigit(path.charCodeAt(start - 1))) start--;
    // `%2001` is an escaped space then `01`; `%C3` ends in a digit that is no number.
    if (start >= 1 && path.charCodeAt(start - 1) === 37) start += 2;
    else if (start >= 2 && path.charCodeAt(start - 2) === 37) start += 1;
    if (start <= end) {
      if (end - start + 1 > MAX_SEQUENCE_DIGITS) return undefined;
      const n = Number(path.slice(start, end + 1));
      const host = hostStart === 0 ? origin : origin.slice(hostStart);
      return { stem: `${host}${path.slice(0, start)}#${path.slice(end + 1)}`, n };
    }
    end = start - 3;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
