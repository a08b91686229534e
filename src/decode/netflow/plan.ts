import { Role } from './fields.js';
import type { FlowTemplate } from './templates.js';

// A fixed-length flow template resolved once into "where each FlowRecord field comes from", so
// the per-record loop reads bytes without asking which of several elements the template has.
// The precedence matches the generic path in index.ts (emitRecord/time).

export const enum TimeKind {
  None,
  Millis,
  Seconds,
  Ntp,
  SysUptime,
  DeltaMicros,
}

export interface RecordPlan {
  /** 4: IPv4 source (and destination), 6: IPv6, -4: IPv4 destination only, 0: no addresses. */
  family: number;
  src: number;
  dst: number;
  srcPort: number;
  srcPortLength: number;
  dstPort: number;
  dstPortLength: number;
  proto: number;
  bytes: number;
  bytesLength: number;
  packets: number;
  packetsLength: number;
  reverseBytes: number;
  reverseBytesLength: number;
  reversePackets: number;
  reversePacketsLength: number;
  startKind: TimeKind;
  start: number;
  startLength: number;
  endKind: TimeKind;
  end: number;
  endLength: number;
  /** The record carries sampling facts (rate or sampler id): the generic lookup runs. */
  sampled: boolean;
}

function first(t: FlowTemplate, roles: readonly Role[]): [number, number] {
  for (const r of roles) if (t.offsets[r]! >= 0) return [t.offsets[r]!, t.roleLengths[r]!];
  return [-1, 0];
}

function timeOf(t: FlowTemplate, start: boolean): [TimeKind, number, number] {
  const pick = (r: Role): [number, number] => [t.offsets[r]!, t.roleLengths[r]!];
  let [o, l] = pick(start ? Role.StartMillis : Role.EndMillis);
  if (o >= 0) return [TimeKind.Millis, o, l];
  [o, l] = pick(start ? Role.StartSeconds : Role.EndSeconds);
  if (o >= 0) return [TimeKind.Seconds, o, l];
  [o, l] = pick(start ? Role.StartMicros : Role.EndMicros);
  if (o < 0) [o, l] = pick(start ? Role.StartNanos : Role.EndNanos);
  if (o >= 0 && l === 8) return [TimeKind.Ntp, o, l];
  [o, l] = pick(start ? Role.FirstSwitched : Role.LastSwitched);
  if (o >= 0) return [TimeKind.SysUptime, o, l];
  [o, l] = pick(start ? Role.StartDeltaMicros : Role.EndDeltaMicros);
  if (o >= 0) return [TimeKind.DeltaMicros, o, l];
  return [TimeKind.None, -1, 0];
}

export function planFor(t: FlowTemplate): RecordPlan {
  const o = t.offsets;
  const family = o[Role.Src4]! >= 0 ? 4 : o[Role.Src6]! >= 0 ? 6 : o[Role.Dst4]! >= 0 ? -4 : 0;
  const src = family === 4 ? o[Role.Src4]! : family === 6 ? o[Role.Src6]! : -1;
  const dst = family === 6 ? o[Role.Dst6]! : o[Role.Dst4]!;
  const [srcPort, srcPortLength] = first(t, [Role.SrcPort, Role.UdpSrcPort, Role.TcpSrcPort]);
  const [dstPort, dstPortLength] = first(t, [Role.DstPort, Role.UdpDstPort, Role.TcpDstPort]);
  const [bytes, bytesLength] = first(t, [Role.Bytes, Role.BytesTotal, Role.InitiatorBytes]);
  const [packets, packetsLength] = first(t, [Role.Packets, Role.PacketsTotal, Role.InitiatorPackets]);
  const [reverseBytes, reverseBytesLength] = first(t, [Role.ReverseBytes, Role.ReverseBytesTotal, Role.ResponderBytes]);
  const [reversePackets, reversePacketsLength] = first(t, [Role.ReversePackets, Role.ReversePacketsTotal, Role.ResponderPackets]);
  const [startKind, start, startLength] = timeOf(t, true);
  const [endKind, end, endLength] = timeOf(t, false);
  const sampled = [Role.SamplingInterval, Role.SamplerRandomInterval, Role.SamplingPacketInterval, Role.SamplerId, Role.SelectorId].some(
    (r) => o[r]! >= 0,
  );
  return {
    family,
    src,
    dst,
    srcPort,
    srcPortLength,
    dstPort,
    dstPortLength,
    proto: o[Role.Proto]!,
    bytes,
    bytesLength,
    packets,
    packetsLength,
    reverseBytes,
    reverseBytesLength,
    reversePackets,
    reversePacketsLength,
    startKind,
    start,
    startLength,
    endKind,
    end,
    endLength,
    sampled,
  };
}
