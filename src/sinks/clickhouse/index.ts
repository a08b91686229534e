import type { CommonDeps } from '../../daemon/component.js';
import type { Sink } from '../types.js';
import type { ClickhouseConfig } from './config.js';

export function createClickhouseSink(_config: ClickhouseConfig, _deps: CommonDeps): Sink {
  throw new Error('clickhouse sink: not implemented yet');
}
