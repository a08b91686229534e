import { describe, expect, test } from 'vitest';
import { SyslogFramer, syslogMessageText } from './framing.js';

function frame(chunks: (string | Buffer)[], max = 1024) {
  const messages: string[] = [];
  const drops: string[] = [];
  const f = new SyslogFramer(max, (m) => messages.push(m.toString()), (r) => drops.push(r));
  for (const c of chunks) f.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  f.end();
  return { messages, drops };
}

describe('syslog TCP framing', () => {
  test('newline framing, CRLF, blank lines, last line without newline', () => {
    expect(frame(['a one\nb two\r\n\n', 'c three'])).toEqual({ messages: ['a one', 'b two', 'c three'], drops: [] });
  });

  test('octet counting, frames split anywhere', () => {
    const text = '10 <13>hello\n5 world3 abc';
    for (let cut = 1; cut < text.length; cut++) {
      expect(frame([text.slice(0, cut), text.slice(cut)]).messages, `cut at ${cut}`).toEqual(['<13>hello\n', 'world', 'abc']);
    }
    // One byte at a time.
    expect(frame(text.split('')).messages).toEqual(['<13>hello\n', 'world', 'abc']);
  });

  test('a line that starts with a Unix time is newline framed', () => {
    expect(frame(['1700000000.123 5 10.0.0.1 x\n']).messages).toEqual(['1700000000.123 5 10.0.0.1 x']);
  });

  test('oversized frames are dropped and counted, the stream goes on', () => {
    expect(frame(['20 ' + 'x'.repeat(20) + '3 abc'], 10)).toEqual({ messages: ['abc'], drops: ['too_large'] });
    expect(frame(['y'.repeat(30), 'y'.repeat(30) + '\nok\n'], 10)).toEqual({ messages: ['ok'], drops: ['too_large'] });
  });

  test('a cut octet-counted frame at the end is truncated, not delivered', () => {
    expect(frame(['10 abc'])).toEqual({ messages: [], drops: ['truncated'] });
  });

  test('memory stays bounded by one message while waiting', () => {
    const f = new SyslogFramer(100, () => {}, () => {});
    for (let i = 0; i < 1000; i++) f.push(Buffer.from('z'.repeat(50)));
    expect(f.buffered).toBeLessThanOrEqual(150);
  });
});

describe('syslog header', () => {
  const squid = '1700000000.123 5 10.0.0.1 TCP_MISS/200 10 GET http://a.example.com/ - HIER_DIRECT/198.51.100.1 -';
  test('RFC 3164 with host and tag', () => {
    expect(syslogMessageText(`<166>Jun 10 08:13:20 proxy1 squid[1234]: ${squid}`)).toBe(squid);
    expect(syslogMessageText(`<166>Jun  1 08:13:20 proxy1 squid: ${squid}`)).toBe(squid);
  });
  test('RFC 3164 without host, with an ISO timestamp, without a tag', () => {
    expect(syslogMessageText(`<166>Jun 10 08:13:20 squid[1]: ${squid}`)).toBe(squid);
    expect(syslogMessageText(`<166>2024-06-10T08:13:20.123+00:00 proxy1 squid[1]: ${squid}`)).toBe(squid);
    expect(syslogMessageText(`<166>Jun 10 08:13:20 proxy1 ${squid}`)).toBe(squid);
  });
  test('RFC 5424 with and without structured data and BOM', () => {
    expect(syslogMessageText(`<166>1 2024-06-10T08:13:20.123Z proxy1 squid 1234 - - ${squid}`)).toBe(squid);
    expect(syslogMessageText(`<166>1 2024-06-10T08:13:20Z proxy1 squid - access [x@1 a="b\\]c"][y@2] \ufeff${squid}`)).toBe(squid);
    expect(syslogMessageText('<166>1 2024-06-10T08:13:20Z proxy1 squid - -')).toBe('');
  });
  test('no header: the text as is', () => {
    expect(syslogMessageText(squid)).toBe(squid);
    expect(syslogMessageText('<oops> text')).toBe('<oops> text');
  });
});
