// Information elements the collector reads (NetFlow v9 field types = IPFIX IANA element ids).
// Each one the decoder uses gets a small "role" number; a compiled template stores where each
// role sits in a record, so data records are read with direct offsets.

/** IPFIX Private Enterprise Number of reverse (biflow) elements, RFC 5103. */
export const REVERSE_PEN = 29305;

export const enum Role {
  Src4,
  Dst4,
  Src6,
  Dst6,
  SrcPort,
  DstPort,
  UdpSrcPort,
  UdpDstPort,
  TcpSrcPort,
  TcpDstPort,
  Proto,
  Bytes,
  Packets,
  BytesTotal,
  PacketsTotal,
  ReverseBytes,
  ReversePackets,
  ReverseBytesTotal,
  ReversePacketsTotal,
  InitiatorBytes,
  ResponderBytes,
  InitiatorPackets,
  ResponderPackets,
  FirstSwitched,
  LastSwitched,
  StartSeconds,
  EndSeconds,
  StartMillis,
  EndMillis,
  StartMicros,
  EndMicros,
  StartNanos,
  EndNanos,
  StartDeltaMicros,
  EndDeltaMicros,
  SystemInitMillis,
  SamplingInterval,
  SamplerId,
  SamplerRandomInterval,
  SamplingPacketInterval,
  SamplingPacketSpace,
  SelectorId,
}

export const ROLE_COUNT = Role.SelectorId + 1;

/** Role of a standard (non-enterprise) element id; -1 when the collector does not use it. */
const STANDARD_ROLES = new Map<number, Role>([
  [1, Role.Bytes], // octetDeltaCount / IN_BYTES
  [2, Role.Packets], // packetDeltaCount / IN_PKTS
  [4, Role.Proto],
  [7, Role.SrcPort],
  [8, Role.Src4],
  [11, Role.DstPort],
  [12, Role.Dst4],
  [21, Role.LastSwitched], // flowEndSysUpTime
  [22, Role.FirstSwitched], // flowStartSysUpTime
  [27, Role.Src6],
  [28, Role.Dst6],
  [34, Role.SamplingInterval], // samplingInterval (v9 SAMPLING_INTERVAL)
  [48, Role.SamplerId], // samplerId / FLOW_SAMPLER_ID
  [50, Role.SamplerRandomInterval], // samplerRandomInterval
  [85, Role.BytesTotal], // octetTotalCount
  [86, Role.PacketsTotal], // packetTotalCount
  [150, Role.StartSeconds],
  [151, Role.EndSeconds],
  [152, Role.StartMillis],
  [153, Role.EndMillis],
  [154, Role.StartMicros],
  [155, Role.EndMicros],
  [156, Role.StartNanos],
  [157, Role.EndNanos],
  [158, Role.StartDeltaMicros],
  [159, Role.EndDeltaMicros],
  [160, Role.SystemInitMillis],
  [180, Role.UdpSrcPort],
  [181, Role.UdpDstPort],
  [182, Role.TcpSrcPort],
  [183, Role.TcpDstPort],
  [231, Role.InitiatorBytes],
  [232, Role.ResponderBytes],
  [298, Role.InitiatorPackets],
  [299, Role.ResponderPackets],
  [302, Role.SelectorId],
  [305, Role.SamplingPacketInterval],
  [306, Role.SamplingPacketSpace],
]);

const REVERSE_ROLES = new Map<number, Role>([
  [1, Role.ReverseBytes],
  [2, Role.ReversePackets],
  [85, Role.ReverseBytesTotal],
  [86, Role.ReversePacketsTotal],
]);

/** The role of an element, or -1 when it is skipped (unknown ids, other enterprises). */
export function roleOf(elementId: number, enterprise: number): number {
  if (enterprise === 0) return STANDARD_ROLES.get(elementId) ?? -1;
  if (enterprise === REVERSE_PEN) return REVERSE_ROLES.get(elementId) ?? -1;
  return -1;
}

/** Whether a field of this length can carry the role; other lengths are skipped, not misread. */
export function roleAcceptsLength(role: number, length: number): boolean {
  switch (role) {
    case Role.Src4:
    case Role.Dst4:
      return length === 4;
    case Role.Src6:
    case Role.Dst6:
      return length === 16;
    case Role.SrcPort:
    case Role.DstPort:
    case Role.UdpSrcPort:
    case Role.UdpDstPort:
    case Role.TcpSrcPort:
    case Role.TcpDstPort:
      return length === 1 || length === 2;
    case Role.Proto:
      return length === 1;
    case Role.FirstSwitched:
    case Role.LastSwitched:
    case Role.StartDeltaMicros:
    case Role.EndDeltaMicros:
      return length === 4;
    case Role.StartMicros:
    case Role.EndMicros:
    case Role.StartNanos:
    case Role.EndNanos:
      return length === 8;
    default:
      // Reduced-size encoding (RFC 7011 §6.2) allows 1..8 bytes for unsigned numbers.
      return length >= 1 && length <= 8;
  }
}
