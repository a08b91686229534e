import type { SourceConfig } from '../config/schema.js';
import { createFileSource } from './file/index.js';
import { createNetflowSource } from './netflow/index.js';
import { createPcapSource } from './pcap/index.js';
import { createSyslogSource } from './syslog/index.js';
import type { Source, SourceDeps } from './types.js';

/** Build (inertly) the source a config entry describes. */
export function createSource(config: SourceConfig, deps: SourceDeps): Source {
  switch (config.type) {
    case 'file':
      return createFileSource(config, deps);
    case 'netflow':
      return createNetflowSource(config, deps);
    case 'syslog':
      return createSyslogSource(config, deps);
    case 'pcap':
      return createPcapSource(config, deps);
  }
}
