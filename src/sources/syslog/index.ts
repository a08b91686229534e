import type { Source, SourceDeps } from '../types.js';
import type { SyslogSourceConfig } from './config.js';

export function createSyslogSource(_config: SyslogSourceConfig, _deps: SourceDeps): Source {
  throw new Error('syslog source: not implemented yet');
}
