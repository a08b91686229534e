// Server names in cleartext: HTTP request line and Host header, TLS ClientHello SNI, DNS answers.

/** Bytes of a stream's start kept for inspection; matchers stop waiting when this much is there. */
export const MAX_HEAD = 4096;

const HTTP_METHODS = ['GET ', 'POST ', 'HEAD ', 'PUT ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'CONNECT '];

export interface HttpRequestFacts {
  method: string;
  target: string;
  host?: string;
  userAgent?: string;
}

/**
 * An HTTP/1.x request at the start of `head`. 'wait' when it starts like one but the header
 * block is not complete yet; 'no' when it is not a request.
 */
export function matchHttpRequest(head: Buffer): 'no' | 'wait' | HttpRequestFacts {
  if (head.length < 4) return 'wait';
  // Every method starts with one of G, P, H, D, O, C: most streams are ruled out without a string.
  const c = head[0];
  if (c !== 0x47 && c !== 0x50 && c !== 0x48 && c !== 0x44 && c !== 0x4f && c !== 0x43) return 'no';
  const first = head.toString('latin1', 0, Math.min(8, head.length));
  const method = HTTP_METHODS.find((m) => first.startsWith(m) || (first.length < m.length && m.startsWith(first)));
  if (method === undefined) return 'no';
  const limit = Math.min(head.length, MAX_HEAD);
  const text = head.toString('latin1', 0, limit);
  const lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) return head.length >= MAX_HEAD ? 'no' : 'wait';
  const requestLine = text.slice(0, lineEnd);
  const m = /^([A-Z]+) (\S+) HTTP\/\d\.\d$/.exec(requestLine);
  if (!m) return 'no';
  const headersEnd = text.indexOf('\r\n\r\n');
  if (headersEnd < 0 && head.length < MAX_HEAD) return 'wait';
  const facts: HttpRequestFacts = { method: m[1]!, target: m[2]! };
  const headers = text.slice(lineEnd + 2, headersEnd < 0 ? text.length : headersEnd);
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    if (name === 'host') facts.host = line.slice(colon + 1).trim();
    else if (name === 'user-agent') facts.userAgent = line.slice(colon + 1).trim();
  }
  return facts;
}

/** Host without the port, lowercased. */
export function hostName(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(':');
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * TLS ClientHello at the start of `head`: 'wait' until the handshake record is complete,
 * then the SNI host name (or '' when the hello names none), 'no' when not a ClientHello.
 */
export function matchTlsClientHello(head: Buffer): 'no' | 'wait' | { sni: string } {
  if (head.length < 1) return 'wait';
  if (head[0] !== 0x16) return 'no';
  if (head.length < 6) return 'wait';
  if (head[1] !== 3 || head[2]! > 4 || head[5] !== 1) return 'no';
  if (head.length < 9) return 'wait';
  const helloLen = (head[6]! << 16) | (head[7]! << 8) | head[8]!;
  // A ClientHello may span several records; gather as many bytes as the hello needs.
  const need = 9 + helloLen;
  if (head.length < need && head.length < MAX_HEAD) return 'wait';
  const end = Math.min(head.length, need);
  let p = 9 + 2 + 32; // version, random
  if (p + 1 > end) return 'no';
  p += 1 + head[p]!; // session id
  if (p + 2 > end) return 'no';
  p += 2 + head.readUInt16BE(p); // cipher suites
  if (p + 1 > end) return 'no';
  p += 1 + head[p]!; // compression methods
  if (p + 2 > end) return { sni: '' };
  const extEnd = Math.min(end, p + 2 + head.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = head.readUInt16BE(p);
    const len = head.readUInt16BE(p + 2);
    p += 4;
    if (type === 0 && p + 5 <= extEnd) {
      // server_name list: list length, then entries of (type, length, name).
      let q = p + 2;
      const listEnd = Math.min(extEnd, p + 2 + head.readUInt16BE(p));
      while (q + 3 <= listEnd) {
        const nameType = head[q]!;
        const nameLen = head.readUInt16BE(q + 1);
        if (nameType === 0 && q + 3 + nameLen <= listEnd) return { sni: head.toString('latin1', q + 3, q + 3 + nameLen).toLowerCase() };
        q += 3 + nameLen;
      }
    }
    p += len;
  }
  return { sni: '' };
}

export interface DnsAnswer {
  name: string;
  /** 4 bytes (A) or 16 bytes (AAAA), a view into the message. */
  address: Buffer;
  ttl: number;
}

export interface DnsFacts {
  response: boolean;
  question?: string;
  answers: DnsAnswer[];
}

/** A DNS message over UDP; undefined when the header or question does not parse. */
export function parseDns(msg: Buffer): DnsFacts | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  const opcode = (flags >> 11) & 15;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  if (opcode > 5 || qd > 4 || an > 256) return undefined;
  const facts: DnsFacts = { response: (flags & 0x8000) !== 0, answers: [] };
  let p = 12;
  for (let i = 0; i < qd; i++) {
    const name = readName(msg, p);
    if (name === undefined || name.end + 4 > msg.length) return undefined;
    if (i === 0) facts.question = name.text;
    p = name.end + 4;
  }
  if (!facts.response) return facts;
  for (let i = 0; i < an; i++) {
    const name = readName(msg, p);
    if (name === undefined || name.end + 10 > msg.length) break;
    const type = msg.readUInt16BE(name.end);
    const ttl = msg.readUInt32BE(name.end + 4);
    const rdLen = msg.readUInt16BE(name.end + 8);
    const rd = name.end + 10;
    if (rd + rdLen > msg.length) break;
    // The question name is the one the client asked for, even through CNAME chains.
    if ((type === 1 && rdLen === 4) || (type === 28 && rdLen === 16))
      facts.answers.push({ name: facts.question ?? name.text, address: msg.subarray(rd, rd + rdLen), ttl });
    p = rd + rdLen;
  }
  return facts;
}

function readName(msg: Buffer, start: number): { text: string; end: number } | undefined {
  let p = start;
  let end = -1;
  let text = '';
  for (let jumps = 0; jumps < 16; ) {
    if (p >= msg.length) return undefined;
    const len = msg[p]!;
    if (len === 0) {
      if (end < 0) end = p + 1;
      return { text: text.toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= msg.length) return undefined;
      if (end < 0) end = p + 2;
      p = ((len & 0x3f) << 8) | msg[p + 1]!;
      jumps++;
      continue;
    }
    if ((len & 0xc0) !== 0 || p + 1 + len > msg.length || text.length > 255) return undefined;
    text += (text ? '.' : '') + msg.toString('latin1', p + 1, p + 1 + len);
    p += 1 + len;
  }
  return undefined;
}
