import { describe, expect, it } from 'vitest';
import { scanKrpc } from './bencode.js';
import {
  clientFromPeerId,
  isBitTorrentServiceName,
  looksLikeKrpcPrefix,
  HANDSHAKE_PREFIX,
  HANDSHAKE_FULL,
  handshakeLength,
  matchKrpc,
  matchLsd,
  matchUdpTrackerRequest,
  parseUtp,
  percentDecode,
  printablePeerId,
  trackerQuery,
  trackerResponsePeers,
  udpTrackerAnnouncePeers,
} from './bittorrent.js';
import { handshake } from './craft.js';

const HASH = 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126';
const PEER = '-TR3000-abcdefghijkl';

describe('peer-wire handshake', () => {
  it('tells a handshake from a prefix of one and from anything else, at any offset', () => {
    const hs = handshake(HASH, PEER);
    expect(handshakeLength(hs, 0, hs.length)).toBe(HANDSHAKE_FULL);
    expect(handshakeLength(hs, 0, 10)).toBe(0);
    expect(handshakeLength(hs, 0, 30)).toBe(30);
    expect(handshakeLength(hs, 0, 50)).toBe(50);
    expect(hs.toString('hex', 28, 48)).toBe(HASH);
    expect(hs.toString('latin1', 48, 68)).toBe(PEER);
    const later = Buffer.concat([Buffer.from('xyz'), hs]);
    expect(handshakeLength(later, 3, later.length)).toBe(HANDSHAKE_FULL);
    expect(handshakeLength(later, 2, later.length)).toBe(-1);
    const bad = Buffer.from('\x13BitTorrent protocoX');
    expect(handshakeLength(bad, 0, bad.length)).toBe(-1);
    const http = Buffer.from('GET / HTTP/1.1');
    expect(handshakeLength(http, 0, http.length)).toBe(-1);
  });

  it('names clients from peer ids', () => {
    expect(clientFromPeerId(Buffer.from(PEER))).toBe('Transmission 3000');
    expect(clientFromPeerId(Buffer.from('-qB4650-xxxxxxxxxxxx'))).toBe('qBittorrent 4650');
    expect(clientFromPeerId(Buffer.from('A2-1-37-0-xxxxxxxxxx'))).toBe('aria2');
    expect(clientFromPeerId(Buffer.from('-ZZ0000-xxxxxxxxxxxx'))).toBeUndefined();
    expect(printablePeerId(Buffer.from([0x2d, 0x55, 0x54, 0x00, 0x25, 0xff]))).toBe('-UT%00%25%FF');
  });
});

describe('DHT (KRPC)', () => {
  const id = 'abcdefghij0123456789';
  const infoHash = 'mnopqrstuvwxyz123456';
  it('get_peers query with its info hash, in canonical and non-canonical key order', () => {
    const canonical = Buffer.from(`d1:ad2:id20:${id}9:info_hash20:${infoHash}e1:q9:get_peers1:t2:aa1:y1:qe`, 'latin1');
    const reordered = Buffer.from(`d1:q13:announce_peer1:ad2:id20:${id}9:info_hash20:${infoHash}4:porti6881ee1:y1:q1:t2:bbe`, 'latin1');
    for (const msg of [canonical, reordered]) {
      const facts = matchKrpc(msg);
      expect(facts?.kind).toBe('q');
      expect(facts?.infoHashes).toEqual([Buffer.from(infoHash).toString('hex')]);
    }
    expect(matchKrpc(reordered)?.query).toBe('announce_peer');
  });

  it('responses carry peers; errors are KRPC too; junk is not', () => {
    const peer = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]);
    const resp = Buffer.concat([Buffer.from(`d1:rd2:id20:${id}5:token2:xx6:valuesl6:`, 'latin1'), peer, Buffer.from('ee1:t2:aa1:y1:re')]);
    const facts = matchKrpc(resp);
    expect(facts?.kind).toBe('r');
    expect(facts?.peers.map((p) => p.toString('hex'))).toEqual([peer.toString('hex')]);
    expect(matchKrpc(Buffer.from('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee'))?.kind).toBe('e');
    expect(matchKrpc(Buffer.from('d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe'))).toBeUndefined();
    expect(matchKrpc(Buffer.from('d4:name5:hello4:spami42ee'))).toBeUndefined();
    expect(looksLikeKrpcPrefix(Buffer.from(`d1:ad2:id20:${id}`))).toBe(true);
    expect(scanKrpc(Buffer.from('d3:key'))).toBeUndefined();
    expect(scanKrpc(Buffer.from('d1:x' + 'l'.repeat(100) + 'e'.repeat(101)))).toBeUndefined();
    expect(scanKrpc(Buffer.from('d1:x' + 'l'.repeat(8) + 'e'.repeat(9)))).toBeDefined();
  });

  it('reads KRPC fields as a bencode dictionary does: the last of a repeated key wins, anything malformed anywhere fails', () => {
    const ping = (a: string, extra = '') => Buffer.from(`d1:a${a}1:q4:ping1:t2:aa1:y1:q${extra}e`);
    const args = `d2:id20:${id}e`;
    expect(matchKrpc(ping(args))?.query).toBe('ping');
    // A later `a` that is no dictionary replaces the one before; a later dictionary replaces a string.
    expect(matchKrpc(ping(args, '1:a3:abc'))).toBeUndefined();
    expect(matchKrpc(Buffer.from(`d1:a3:abc1:a${args}1:q4:ping1:t2:aa1:y1:qe`))?.kind).toBe('q');
    // The last `y` decides the kind; an integer `t` is no transaction id.
    expect(matchKrpc(ping(args, '1:y1:r'))).toBeUndefined();
    expect(matchKrpc(ping(args, '1:ti5e'))).toBeUndefined();
    // Integers are checked wherever they are, even where nothing reads them.
    expect(matchKrpc(ping(args, '1:vi12e'))?.kind).toBe('q');
    expect(matchKrpc(ping(args, '1:vi1x2e'))).toBeUndefined();
    expect(matchKrpc(ping(args, `1:vl${'i1e'.repeat(600)}e`))).toBeUndefined();
    // Compact peers: the 6- and 18-byte strings of the last `values` list of a response.
    const peers = (values: string) => matchKrpc(Buffer.from(`d1:rd2:id20:${id}6:values${values}e1:t2:aa1:y1:re`))?.peers.map((p) => p.toString('latin1'));
    expect(peers('l6:abcdefi1e3:abc18:abcdefghijklmnopqre')).toEqual(['abcdef', 'abcdefghijklmnopqr']);
    expect(peers('l6:abcdefe6:values6:ghijkl')).toEqual([]);
    expect(peers('l6:abcdefe6:valuesl6:ghijklee'.slice(0, -1))).toEqual(['ghijkl']);
  });
});

describe('uTP', () => {
  function utp(type: number, connectionId: number, payload = Buffer.alloc(0), extension = 0, ext = Buffer.alloc(0)): Buffer {
    const h = Buffer.alloc(20);
    h[0] = (type << 4) | 1;
    h[1] = extension;
    h.writeUInt16BE(connectionId, 2);
    return Buffer.concat([h, ext, payload]);
  }
  it('accepts well-formed headers and rejects impossible ones', () => {
    expect(parseUtp(utp(4, 1000))).toEqual({ type: 4, connectionId: 1000, dataOffset: 20 });
    expect(parseUtp(utp(0, 1001, Buffer.from('data')))?.dataOffset).toBe(20);
    const sack = Buffer.from([0, 4, 0xff, 0, 0, 0]);
    expect(parseUtp(utp(2, 1000, Buffer.alloc(0), 1, sack))?.dataOffset).toBe(26);
    expect(parseUtp(utp(4, 1000, Buffer.from('x')))).toBeUndefined(); // SYN with data
    expect(parseUtp(utp(0, 1000))).toBeUndefined(); // DATA without data
    expect(parseUtp(utp(5, 1000))).toBeUndefined();
    const v2 = utp(4, 1);
    v2[0] = 0x42;
    expect(parseUtp(v2)).toBeUndefined();
    expect(parseUtp(utp(2, 1, Buffer.alloc(0), 1, Buffer.from([0, 3, 1, 2, 3])))).toBeUndefined();
  });
});

describe('LSD and trackers', () => {
  it('local service discovery announces', () => {
    const msg = Buffer.from(`BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${HASH.toUpperCase()}\r\n\r\n\r\n`);
    expect(matchLsd(msg)).toEqual([HASH]);
    expect(matchLsd(Buffer.from('M-SEARCH * HTTP/1.1\r\n'))).toBeUndefined();
  });

  it('HTTP tracker announce query: URL-escaped 20-byte hash to hex', () => {
    const escaped = [...Buffer.from(HASH, 'hex')].map((b) => (b >= 0x30 && b <= 0x39 ? String.fromCharCode(b) : '%' + b.toString(16).padStart(2, '0'))).join('');
    const facts = trackerQuery(`/announce?info_hash=${escaped}&peer_id=${PEER}&port=51413&left=0`);
    expect(facts?.infoHashes).toEqual([HASH]);
    expect(facts?.peerId?.toString()).toBe(PEER);
    expect(trackerQuery('/announce?foo=1')).toBeUndefined();
    expect(trackerQuery(`/scrape?info_hash=${HASH}`)?.infoHashes).toEqual([HASH]);
    expect(percentDecode('%41b%zz').toString('latin1')).toBe('Ab%zz');
  });

  it('compact peers in a tracker response', () => {
    const peers = Buffer.from([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0x1a, 0xe2]);
    const body = Buffer.concat([Buffer.from('d8:intervali1800e5:peers12:'), peers, Buffer.from('e')]);
    expect(trackerResponsePeers(body).map((p) => p.toString('hex'))).toEqual([peers.subarray(0, 6).toString('hex'), peers.subarray(6).toString('hex')]);
  });

  it('UDP tracker: connect magic, then announce and its peers', () => {
    const connect = Buffer.alloc(16);
    connect.writeUInt32BE(0x417, 0);
    connect.writeUInt32BE(0x27101980, 4);
    connect.writeUInt32BE(0, 8);
    expect(matchUdpTrackerRequest(connect, false)).toEqual({ kind: 'connect' });
    const announce = Buffer.alloc(98);
    announce.writeUInt32BE(1, 8);
    Buffer.from(HASH, 'hex').copy(announce, 16);
    Buffer.from(PEER).copy(announce, 36);
    expect(matchUdpTrackerRequest(announce, true)).toMatchObject({ kind: 'announce', infoHash: HASH });
    // Without a connect, only a conventional peer id makes an announce.
    Buffer.alloc(20).copy(announce, 36);
    expect(matchUdpTrackerRequest(announce, false)).toBeUndefined();
    expect(matchUdpTrackerRequest(Buffer.alloc(16), false)).toBeUndefined();
    const response = Buffer.alloc(26);
    response.writeUInt32BE(1, 0);
    Buffer.from([192, 0, 2, 1, 0x1a, 0xe1]).copy(response, 20);
    expect(udpTrackerAnnouncePeers(response, false)).toHaveLength(1);
  });

  it('vendor service names', () => {
    expect(isBitTorrentServiceName('web.utorrent.com')).toBe(true);
    expect(isBitTorrentServiceName('notutorrent.com')).toBe(false);
  });
});

describe('printablePeerId over every byte value', () => {
  it('keeps printable ASCII but %, writes every other byte as %XX, and can be read back', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, b) => b));
    const text = printablePeerId(all);
    for (let b = 0; b < 256; b++) {
      const one = printablePeerId(Buffer.from([b]));
      expect(one).toBe(b >= 0x20 && b < 0x7f && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`);
    }
    const back = Buffer.from(text.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    expect(back.equals(all)).toBe(true);
  });
});

describe('handshakeLength on prefixes', () => {
  it('waits on every proper prefix of the protocol string and refuses any changed byte', () => {
    for (let n = 1; n < HANDSHAKE_PREFIX.length; n++) {
      expect(handshakeLength(HANDSHAKE_PREFIX, 0, n)).toBe(0);
      const changed = Buffer.from(HANDSHAKE_PREFIX.subarray(0, n));
      changed[n - 1] = changed[n - 1]! ^ 0x01;
      expect(handshakeLength(changed, 0, n)).toBe(-1);
    }
    expect(handshakeLength(Buffer.alloc(0), 0, 0)).toBe(0);
    expect(handshakeLength(HANDSHAKE_PREFIX, 0, HANDSHAKE_PREFIX.length)).toBe(HANDSHAKE_PREFIX.length);
  });
});
